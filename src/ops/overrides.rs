//! Overrides, as Monticello has them: a pushed method that replaces a method of another package
//! (an extension `Integer>>isProbablyPrime` where the image's `Integer` already has one of its
//! own package). The agent keeps the original when it installs the override and puts it back
//! when the override is removed or rolled back; here the client learns which of a comparison's
//! changes are overrides, so that `diff` and `push` say so (and whose method) before anything is
//! sent.

use super::compare::Comparison;
use crate::diff::{ClassChange, MethodChange};
use crate::image::protocol::MethodProbe;
use crate::image::{Client, ClientError};
use crate::model::MethodKey;
use std::collections::{BTreeMap, BTreeSet};

/// Methods that are (or would be) overrides, with the package whose method each replaces.
pub type Overrides = BTreeMap<MethodKey, String>;

/// The overrides among `comparison`'s changes: the methods the image already holds as
/// overrides (its snapshot marks them), and the added methods that would replace another
/// package's method, asked of the agent (`packages`: the project's, which the methods come
/// with). Methods of classes the push creates cannot replace anything and are not asked about;
/// an agent without the `overrides` feature is not asked at all.
pub async fn find(
    client: &mut Client,
    comparison: &Comparison,
    packages: &[String],
) -> Result<Overrides, ClientError> {
    let mut found = comparison.overrides.clone();
    if !client.hello.has("overrides") {
        return Ok(found);
    }
    let created: BTreeSet<&str> = comparison
        .changes
        .classes
        .iter()
        .filter(|c| matches!(c, ClassChange::Added { .. }))
        .map(ClassChange::name)
        .collect();
    let probes: Vec<MethodProbe> = comparison
        .changes
        .methods
        .iter()
        .filter_map(|change| match change {
            MethodChange::Added { new } if !created.contains(new.method.class_name.as_str()) => {
                Some(MethodProbe {
                    class_name: new.method.class_name.clone(),
                    side: new.method.side,
                    selector: new.method.selector.clone(),
                    protocol: new.method.protocol.clone(),
                })
            }
            _ => None,
        })
        .collect();
    if probes.is_empty() {
        return Ok(found);
    }
    let answer = client.overrides(packages.to_vec(), probes).await?;
    for o in answer.overrides {
        let key = MethodKey {
            class_name: o.class_name,
            side: o.side,
            selector: o.selector,
        };
        found.insert(key, o.owner);
    }
    Ok(found)
}

/// What a change does to an override, in words: `overrides Kernel-Numbers's method` for one put
/// in or changed, `gives Kernel-Numbers's method back` for one `removed`.
pub fn note(removed: bool, owner: &str) -> String {
    if removed {
        format!("gives {owner}'s method back")
    } else {
        format!("overrides {owner}'s method")
    }
}

#[cfg(test)]
mod tests {
    use super::note;

    #[test]
    fn an_override_says_whose_method_it_replaces_or_gives_back() {
        assert_eq!(
            note(false, "Kernel-Numbers"),
            "overrides Kernel-Numbers's method"
        );
        assert_eq!(
            note(true, "Kernel-Numbers"),
            "gives Kernel-Numbers's method back"
        );
    }
}
