//! Which commit a target runs, as its audit log tells (`status`, `status --group`).
//!
//! The image runs the code of the last batch applied and not rolled back since (a rollback
//! undoes the newest batch still in effect, as the agent's journal does), so the log is read
//! newest first, each rollback cancelling the apply of the batch it names. That batch's audit
//! entry holds the commit the CLI sent with it (`client.commit`: `HEAD`, or the commit `push
//! --ref` named). The image is **modified** against that commit when the batch was pushed from a
//! work tree with uncommitted changes, when definitions were changed in the image since (drift),
//! or when a `pull` adopted such changes since. A push that found nothing to do records nothing,
//! so the commit is that of the last push that changed something.

use crate::image::Client;
use crate::image::ClientError;
use crate::image::protocol::{LogEntry, LogResult};
use serde::Serialize;

/// What the audit log says about the code an image runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Provenance {
    /// The commit of the last batch in effect; `None` when it cannot be told (see `reasons`).
    pub commit: Option<String>,
    /// True when the image's code is not exactly that commit's (see `reasons`).
    pub modified: bool,
    /// Why it is modified, or why the commit is unknown; empty for a clean commit.
    pub reasons: Vec<String>,
    /// The batch in effect, and when it was applied (the image's local time).
    pub batch: Option<String>,
    pub applied: Option<String>,
}

impl Provenance {
    /// `3f2c1e0a12`, `3f2c1e0a12 (modified: pushed from …)`, `unknown (…)`: one line for a
    /// terminal.
    pub fn summary(&self) -> String {
        let why = self.reasons.join("; ");
        match (&self.commit, self.modified) {
            (Some(c), false) => short(c).to_owned(),
            (Some(c), true) => format!("{} modified ({why})", short(c)),
            (None, _) => format!("unknown ({why})"),
        }
    }
}

fn short(commit: &str) -> &str {
    commit.get(..10).unwrap_or(commit)
}

/// Reads the provenance from `entries` (newest first, as `log` answers them); `complete` says
/// whether they are every entry the image keeps, `dropped` how many older ones it dropped, and
/// `drifted` whether the image holds changes made by other means now (`None`: unknown).
pub fn from_entries(
    entries: &[LogEntry],
    complete: bool,
    dropped: u64,
    drifted: Option<bool>,
) -> Option<Provenance> {
    let mut undone: Vec<&str> = Vec::new();
    let mut adopted = false;
    for entry in entries {
        let batch = entry.batch.as_deref().unwrap_or_default();
        match entry.event.as_str() {
            "rollback" => undone.push(batch),
            "apply" => match undone.iter().position(|b| *b == batch) {
                Some(i) => {
                    undone.remove(i);
                }
                None => return Some(in_effect(entry, adopted, drifted)),
            },
            "adopt" => adopted = true,
            _ => {}
        }
    }
    if !complete {
        // The answer is further back than the entries read.
        return None;
    }
    let reason = if dropped > 0 {
        format!(
            "no batch in effect among the last {} audit entries; {dropped} older ones were dropped",
            entries.len()
        )
    } else if entries.is_empty() {
        "hotpatch has applied nothing to this image".to_owned()
    } else {
        "every batch hotpatch applied was rolled back".to_owned()
    };
    Some(Provenance {
        commit: None,
        modified: drifted == Some(true),
        reasons: vec![reason],
        batch: None,
        applied: None,
    })
}

/// The provenance of the batch `entry` applied, with what happened since.
fn in_effect(entry: &LogEntry, adopted: bool, drifted: Option<bool>) -> Provenance {
    let client = entry.client.clone().unwrap_or_default();
    let mut reasons = Vec::new();
    if client.commit.is_none() {
        reasons.push("the batch was pushed from sources outside git".to_owned());
    }
    if client.dirty == Some(true) {
        reasons.push("pushed from a work tree with uncommitted changes".to_owned());
    }
    if drifted == Some(true) {
        reasons.push("changed in the image since (drift)".to_owned());
    }
    if adopted {
        reasons.push("changes made in the image were pulled into the sources since".to_owned());
    }
    let modified = client.commit.is_some() && !reasons.is_empty();
    Provenance {
        commit: client.commit,
        modified,
        reasons,
        batch: entry.batch.clone(),
        applied: Some(entry.time.clone()),
    }
}

/// How many entries are read first: enough for any ordinary history of rollbacks.
const FIRST_READ: u64 = 50;

/// Asks the agent's audit log which commit the image runs (`None` when the agent keeps no log:
/// it predates it). `drifted` as for [`from_entries`].
pub async fn read(
    client: &mut Client,
    drifted: Option<bool>,
) -> Result<Option<Provenance>, ClientError> {
    if !client.hello.has("log") {
        return Ok(None);
    }
    let first: LogResult = client.log(Some(FIRST_READ)).await?;
    let complete = first.entries.len() as u64 >= first.kept;
    if let Some(p) = from_entries(&first.entries, complete, first.dropped, drifted) {
        return Ok(Some(p));
    }
    // More rollbacks than that: read everything the image keeps.
    let all = client.log(Some(0)).await?;
    Ok(from_entries(&all.entries, true, all.dropped, drifted))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::protocol::ClientIdentity;

    fn entry(event: &str, batch: &str, commit: Option<&str>, dirty: Option<bool>) -> LogEntry {
        LogEntry {
            event: event.into(),
            batch: Some(batch.into()),
            time: format!("t-{batch}"),
            client: Some(ClientIdentity {
                commit: commit.map(str::to_owned),
                dirty,
                ..ClientIdentity::default()
            }),
            ..LogEntry::default()
        }
    }

    #[test]
    fn the_newest_batch_not_rolled_back_gives_the_commit() {
        // Oldest to newest: a@c1, b@c2, c@c3, rollback c, rollback b  ->  a, at c1.
        let mut log = vec![
            entry("apply", "a", Some("c1"), Some(false)),
            entry("apply", "b", Some("c2"), Some(false)),
            entry("apply", "c", Some("c3"), Some(false)),
            entry("rollback", "c", None, None),
            entry("rollback", "b", None, None),
        ];
        log.reverse();
        let p = from_entries(&log, true, 0, Some(false)).unwrap();
        assert_eq!(
            (p.commit.as_deref(), p.modified, p.batch.as_deref()),
            (Some("c1"), false, Some("a"))
        );
        assert_eq!(p.summary(), "c1");
        // The same batch applied again after its rollback counts again.
        log.insert(0, entry("apply", "b", Some("c2"), Some(false)));
        let p = from_entries(&log, true, 0, Some(false)).unwrap();
        assert_eq!(p.commit.as_deref(), Some("c2"));
    }

    #[test]
    fn a_dirty_push_a_hand_edit_or_a_pull_since_make_it_modified() {
        let dirty = vec![entry("apply", "a", Some("c1"), Some(true))];
        let p = from_entries(&dirty, true, 0, Some(false)).unwrap();
        assert!(p.modified, "{p:?}");
        assert!(
            p.summary().contains("uncommitted changes"),
            "{}",
            p.summary()
        );

        let clean = vec![entry("apply", "a", Some("c1"), Some(false))];
        let p = from_entries(&clean, true, 0, Some(true)).unwrap();
        assert!(p.modified && p.summary().contains("drift"), "{p:?}");
        // Drift unknown is not "modified".
        assert!(!from_entries(&clean, true, 0, None).unwrap().modified);

        let mut pulled = clean.clone();
        pulled.insert(0, entry("adopt", "", None, None));
        let p = from_entries(&pulled, true, 0, Some(false)).unwrap();
        assert!(p.modified && p.summary().contains("pulled"), "{p:?}");
    }

    #[test]
    fn unknown_when_nothing_is_in_effect_or_the_log_does_not_reach_it() {
        let p = from_entries(&[], true, 0, Some(false)).unwrap();
        assert_eq!(p.commit, None);
        assert!(p.summary().starts_with("unknown"), "{}", p.summary());
        let undone = vec![
            entry("rollback", "a", None, None),
            entry("apply", "a", Some("c1"), Some(false)),
        ];
        let p = from_entries(&undone, true, 0, Some(false)).unwrap();
        assert!(p.summary().contains("rolled back"), "{}", p.summary());
        let p = from_entries(&undone, true, 7, Some(false)).unwrap();
        assert!(
            p.summary().contains("7 older ones were dropped"),
            "{}",
            p.summary()
        );
        // Not every entry read: ask for more.
        assert_eq!(from_entries(&undone, false, 0, Some(false)), None);
        // Pushed from outside git: no commit to show.
        let outside = vec![entry("apply", "a", None, None)];
        let p = from_entries(&outside, true, 0, Some(false)).unwrap();
        assert!(p.summary().contains("outside git"), "{}", p.summary());
    }
}
