//! Proving that an image runs what the sources say: snapshot the owned packages through the
//! agent and diff them against the local sources with the same machinery as `hotpatch diff`;
//! the result must be empty.
//!
//! An image built by `hotpatch rebuild` knows the exact source of every method it loaded (the
//! build script records them in the agent's `HpSourceStore`, saved with the image), so this is
//! a plain diff of texts. One allowance remains, for methods an image reports only decompiled
//! (`source_exact: false`: an image without a changes file whose code was loaded by other means):
//! such a source cannot match the source text, so for it — and only when its protocol matches —
//! the image is asked to compile the local source in that class and compare the result with the
//! installed method (header, literals, bytecodes). Same compiled code means the image runs that
//! source. Everything else (classes, variables, missing or extra methods, protocols, exact
//! sources) must match exactly. [`Verified`] says which path was taken.

use crate::diff::{MethodChange, diff};
use crate::image::{Client, ClientError, Endpoint};
use crate::model::{MethodKey, Side};
use crate::ops::local::LocalSources;
use serde::Serialize;
use std::collections::HashSet;
use std::time::{Duration, Instant};

/// What a successful verification checked, and how.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Verified {
    /// `diff` when every method was compared by its exact source (the plain diff was empty);
    /// `diff_and_compiled_code` when some were checked by their compiled code.
    pub path: VerifyPath,
    /// Methods of the owned packages whose exact source the image reported.
    pub exact_sources: usize,
    /// Methods whose image source is not exact and that were checked by their compiled code.
    pub by_compiled_code: usize,
}

/// How a verification compared methods (see the module doc).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VerifyPath {
    /// The plain diff: every method source exact and equal.
    #[default]
    Diff,
    /// The diff, plus compiled-code comparison for methods the image has only decompiled.
    DiffAndCompiledCode,
}

/// Waits until an agent answers at `url` with a session other than `not_session`. `exited`
/// reports a VM that quit (no point in waiting then).
pub async fn wait_for_agent(
    endpoint: &Endpoint,
    token: &str,
    timeout: Duration,
    not_session: Option<&str>,
    mut exited: impl FnMut() -> Option<std::process::ExitStatus>,
) -> Result<Client, String> {
    let url = endpoint.url.as_str();
    let deadline = Instant::now() + timeout;
    let mut last = String::from("nothing answered");
    loop {
        if let Some(status) = exited() {
            return Err(format!("the VM quit ({status}) before its agent answered"));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!(
                "no agent answered at {url} with a new session within {} s ({last})",
                timeout.as_secs()
            ));
        }
        match Client::connect_to(endpoint, token, left.min(Duration::from_secs(5))).await {
            Ok(c) if not_session == Some(c.hello.session.as_str()) => {
                last = format!("still the old session {}", c.hello.session);
                c.close().await;
            }
            Ok(c) => return Ok(c),
            Err(e @ ClientError::Agent(_)) => {
                return Err(format!("the agent at {url} refused us: {e}"));
            }
            Err(e) if e.is_configuration() => return Err(e.to_string()),
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Snapshots the image and requires it to match the local sources (see the module doc).
pub async fn check_matches(client: &mut Client, local: &LocalSources) -> Result<Verified, String> {
    let snapshot = client
        .snapshot(local.scope.packages.clone(), None, None)
        .await
        .map_err(|e| format!("cannot snapshot the image: {e}"))?;
    let methods = || {
        snapshot.packages.iter().flat_map(|p| {
            let in_classes = p.classes.iter().flat_map(|c| c.methods.iter());
            let in_extensions = p.extensions.iter().flat_map(|e| e.methods.iter());
            in_classes.chain(in_extensions)
        })
    };
    let exact_sources = methods().filter(|m| m.source_exact).count();
    let inexact: HashSet<MethodKey> = methods()
        .filter(|m| !m.source_exact)
        .map(|m| MethodKey {
            class_name: m.class_name.clone(),
            side: m.side,
            selector: m.selector.clone(),
        })
        .collect();
    let squeak = client.hello.dialect.eq_ignore_ascii_case("squeak");
    let changes = diff(&local.packages, &snapshot.into_packages());

    let mut differences: Vec<String> = crate::ops::push::change_lines(
        &crate::diff::Changes {
            classes: changes.classes.clone(),
            methods: Vec::new(),
        },
        &Default::default(),
    )
    .iter()
    .map(|l| format!("{} {} {}", l.change, l.what, l.name))
    .collect();
    // Methods that can only be checked by their compiled code, asked in batches (one eval per
    // batch: a project has thousands of methods; an eval costs a round trip and a compile).
    let candidates: Vec<(MethodKey, &str)> = changes
        .methods
        .iter()
        .filter_map(|change| match change {
            MethodChange::Changed { old, new }
                if squeak
                    && inexact.contains(&change.key())
                    && old.method.protocol == new.method.protocol =>
            {
                Some((change.key(), new.method.source.as_str()))
            }
            _ => None,
        })
        .collect();
    let mut equivalent: HashSet<MethodKey> = HashSet::new();
    for batch in candidates.chunks(SAME_CODE_BATCH) {
        let answers = same_compiled_code(client, batch).await?;
        for ((key, _), same) in batch.iter().zip(answers) {
            if same {
                equivalent.insert(key.clone());
            }
        }
    }
    let verified = Verified {
        path: if equivalent.is_empty() {
            VerifyPath::Diff
        } else {
            VerifyPath::DiffAndCompiledCode
        },
        exact_sources,
        by_compiled_code: equivalent.len(),
    };
    for change in &changes.methods {
        let key = change.key();
        if equivalent.contains(&key) {
            continue;
        }
        let what = match change {
            MethodChange::Added { .. } => "missing in the image",
            MethodChange::Removed { .. } => "only in the image",
            MethodChange::Changed { .. } => "changed",
            MethodChange::Moved { .. } => "in another protocol",
        };
        differences.push(format!("{key} {what}"));
    }
    if differences.is_empty() {
        return Ok(verified);
    }
    let shown: Vec<&str> = differences.iter().take(10).map(String::as_str).collect();
    Err(format!(
        "it does not match the sources ({} difference(s): {}{})",
        differences.len(),
        shown.join(", "),
        if differences.len() > 10 { ", …" } else { "" }
    ))
}

/// Methods per equivalence eval: each adds three string literals to the do-it, and old Squeak
/// compilers allow 256 literals per method.
const SAME_CODE_BATCH: usize = 20;

/// Asks a Squeak image, for each method, whether compiling its local source in its class gives
/// the installed method (same header, literals and bytecodes; not the trailer, which holds a
/// source pointer). One answer per method, in order.
async fn same_compiled_code(
    client: &mut Client,
    batch: &[(MethodKey, &str)],
) -> Result<Vec<bool>, String> {
    let answer = client
        .eval(&same_code_expression(batch))
        .await
        .map_err(|e| format!("cannot compare methods in the image: {e}"))?;
    // The answer is the printString of a String of t/f, one per method: 'tft'.
    let flags = answer.trim().trim_matches('\'');
    if flags.len() != batch.len() {
        return Err(format!(
            "unexpected answer comparing {} method(s) in the image: {answer}",
            batch.len()
        ));
    }
    Ok(flags.chars().map(|c| c == 't').collect())
}

/// The Smalltalk (Squeak 2.x and later: no exceptions, no block temporaries) for
/// [`same_compiled_code`]: the same steps unrolled once per method, sharing the temporaries.
fn same_code_expression(batch: &[(MethodKey, &str)]) -> String {
    let quote = |s: &str| format!("'{}'", s.replace('\'', "''"));
    let mut out =
        String::from("| cls old new ok out |\nout := WriteStream on: (String new: 64).\n");
    for (key, source) in batch {
        let side = match key.side {
            Side::Instance => "",
            Side::Class => "cls := cls class.\n",
        };
        out.push_str(&format!(
            "ok := false.\n\
             cls := Smalltalk at: {class} asSymbol ifAbsent: [nil].\n\
             cls == nil ifFalse: [\n\
             {side}\
             (cls includesSelector: {selector} asSymbol) ifTrue: [\n\
             old := cls compiledMethodAt: {selector} asSymbol.\n\
             new := Compiler new compile: {source} in: cls notifying: HpSqueakCompileCatcher new ifFail: [nil].\n\
             new == nil ifFalse: [\n\
             new := new generate: #(0 0 0 0).\n\
             ok := old header = new header and: [old endPC = new endPC].\n\
             ok ifTrue: [1 to: old numLiterals do: [:i | (old literalAt: i) = (new literalAt: i) ifFalse: [ok := false]]].\n\
             ok ifTrue: [old initialPC to: old endPC do: [:i | (old at: i) = (new at: i) ifFalse: [ok := false]]]]]].\n\
             out nextPut: (ok ifTrue: [$t] ifFalse: [$f]).\n",
            class = quote(&key.class_name),
            selector = quote(&key.selector),
            source = quote(source),
        ));
    }
    out.push_str("out contents");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_equivalence_check_quotes_the_source_and_picks_the_side() {
        let key = MethodKey {
            class_name: "SampleApp".into(),
            side: Side::Class,
            selector: "greet:".into(),
        };
        let instance = MethodKey {
            side: Side::Instance,
            selector: "x".into(),
            ..key.clone()
        };
        let e = same_code_expression(&[
            (key, "greet: aName\n\t^ 'Hello, ' , aName"),
            (instance, "x"),
        ]);
        assert!(e.contains("Smalltalk at: 'SampleApp' asSymbol"), "{e}");
        assert_eq!(e.matches("cls := cls class.").count(), 1, "{e}");
        assert!(
            e.contains("compile: 'greet: aName\n\t^ ''Hello, '' , aName' in: cls"),
            "{e}"
        );
        assert_eq!(e.matches("out nextPut:").count(), 2, "{e}");
        assert!(e.ends_with("out contents"), "{e}");
    }
}
