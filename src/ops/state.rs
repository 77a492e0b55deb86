//! The live-state check of a push: which variables and classes the batch drops (less what it
//! carries over), and what the live objects hold in them, counted by the agent (`census`).
//! The `drops-live-state` rule of the planner judges the answer.

use crate::diff::Changes;
use crate::image::protocol::{CensusClass, ErrorKind};
use crate::image::{Client, ClientError};
use crate::plan::state::{self, Carry, ClassCensus, Dropped, LiveState, Rename, RenameError};
use crate::plan::state::{VarCensus, VarKind};
use std::time::Duration;

/// How long the agent may count before the counts it has not finished are `unknown`.
pub const CENSUS_LIMIT: Duration = Duration::from_secs(10);

/// The carries of `changes` (renames asked for, push-ups found) and the census of what it
/// still drops. Asks the agent only when something is dropped; an agent without `census`
/// (an older one) leaves every count unknown.
pub async fn check(
    client: &mut Client,
    changes: &Changes,
    renames: &[Rename],
) -> Result<(Vec<Carry>, LiveState), StateError> {
    let carries = state::carries(changes, renames)?;
    let dropped = state::dropped(changes, &carries);
    if dropped.is_empty() {
        return Ok((carries, LiveState::default()));
    }
    let asked = dropped.iter().map(census_class).collect();
    let live = match client.census(asked, Some(CENSUS_LIMIT)).await {
        Ok(answer) => {
            let mut live = LiveState::default();
            for entry in answer.classes {
                let census = ClassCensus {
                    instances: entry.instances,
                    all_instances: entry.all_instances,
                    vars: entry
                        .vars
                        .into_iter()
                        .map(|v| VarCensus {
                            kind: v.kind,
                            name: v.name,
                            non_nil: v.non_nil,
                        })
                        .collect(),
                };
                live.classes.insert(entry.name, census);
            }
            if !answer.complete {
                live.unavailable = Some(format!(
                    "the agent did not finish counting within {} s",
                    CENSUS_LIMIT.as_secs()
                ));
            }
            live
        }
        Err(ClientError::Agent(e)) if e.kind == ErrorKind::UnknownCommand => LiveState::unknown(
            &dropped,
            "the agent is too old to count live objects".into(),
        ),
        Err(e) => return Err(StateError::Agent(e)),
    };
    Ok((carries, live))
}

fn census_class(d: &Dropped) -> CensusClass {
    let vars = |kind: VarKind| d.vars.get(&kind).cloned().unwrap_or_default();
    CensusClass {
        name: d.class_name.clone(),
        inst_vars: vars(VarKind::InstVar),
        class_inst_vars: vars(VarKind::ClassInstVar),
        class_vars: vars(VarKind::ClassVar),
    }
}

/// Why the live-state check could not be made.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// A `--rename-var` does not fit the push.
    #[error(transparent)]
    Rename(#[from] RenameError),
    /// The agent failed to answer the census.
    #[error(transparent)]
    Agent(ClientError),
}
