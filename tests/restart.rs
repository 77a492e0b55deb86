//! The agent after an image save and restart, in the real VM on the CI's Squeak 2.x test image:
//! the saved image is started again with no script, and only the image's start-up list brings
//! the agent back (HpAgent class>>startUp:), whatever its processes were doing when it was saved.

mod common;

use common::{Runtime, Vm, runtime, skip_on};

/// The state the image is saved in: the agent's accept loop is queued on the Delay scheduler's
/// lock (Delay's AccessProtect) while the saving process holds it. That is what happens when the
/// accept loop's one-second wait ends just as the image shuts its Delays down to save. On start-up
/// Delay class>>startUp gives that lock to the accept loop, which has not run yet when the
/// start-up list restarts the agent (the same end is reached without this state when the resumed
/// loop is preempted inside Delay's critical section before the start-up list stops it; that
/// one cannot be arranged without a clock).
///
/// The arrangement uses no clock: a process at the accept loop's priority takes the lock, starts
/// the saving process and lets it run (`Processor yield`) until it waits for the lock, wakes the
/// accept loop (a signal on its listening socket's semaphore) and lets it run until it waits for
/// the lock too, then gives the lock back (to the saving process, first in line). Whether both
/// ended up in line is recorded in the image (`HpArranged`) and checked after the restart.
fn saved_while_the_accept_loop_waits_for_the_delay_lock(save: &str) -> String {
    format!(
        "| lock server loop listener saver n | \
         lock := Delay classPool at: #AccessProtect. \
         server := HpAgent current instVarNamed: 'server'. \
         loop := server instVarNamed: 'process'. \
         listener := (server instVarNamed: 'listener') at: 2. \
         Smalltalk at: #HpArranged put: false. \
         [(Delay forMilliseconds: 300) wait. \
          lock wait. \
          saver := [{save}] newProcess. \
          saver priority: Processor userBackgroundPriority. \
          saver resume. \
          n := 0. \
          [saver suspendingList == lock or: [n > 100000]] whileFalse: [Processor yield. n := n + 1]. \
          listener semaphore signal. \
          [loop suspendingList == lock or: [n > 200000]] whileFalse: [Processor yield. n := n + 1]. \
          Smalltalk at: #HpArranged put: (saver suspendingList == lock and: [loop suspendingList == lock]). \
          lock signal] forkAt: Processor userBackgroundPriority. \
         'saving'"
    )
}

#[test]
fn the_agent_answers_after_a_restart_of_an_image_saved_while_its_accept_loop_waited_for_a_lock() {
    // The arrangement reaches into Squeak 2.x's Delay lock and the classic platform's
    // listener, and the lost lock needs a platform without ensure:; Cuis and Pharo have
    // ensure:, so a process terminated there gives its locks back.
    let why = "arranges Squeak 2.x's Delay lock (AccessProtect) and a platform without ensure:";
    if skip_on(Runtime::Cuis, why) || skip_on(Runtime::Pharo, why) {
        return;
    }
    let vm = Vm::start();
    let first = vm.epoch();
    assert_eq!(first, 0);
    // Before the fix the restarted agent logged "listening" and never answered again: stopping
    // the old server terminated its accept loop while that held the Delay lock, and every wait
    // in the image (the new accept loop's among them) queued on that lock for ever.
    let again = vm.save_and_restart_by(saved_while_the_accept_loop_waits_for_the_delay_lock);
    assert_eq!(
        again.eval("Smalltalk at: #HpArranged"),
        "true",
        "the image was not saved in the state this test is about\n{}",
        again.logs()
    );
    // Waits still work in the restarted image: a Delay ends, and the agent answers repeatedly
    // (each connection waits for the client's frames).
    assert_eq!(
        again.eval("(Delay forMilliseconds: 1) wait. 'waited'"),
        "'waited'"
    );
    runtime().block_on(async {
        for _ in 0..3 {
            let mut c = again.client().await;
            assert_eq!(c.eval("3 + 4").await.expect("eval"), "7");
            c.close().await;
        }
    });
}
