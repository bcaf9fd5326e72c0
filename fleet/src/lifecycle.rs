//! A deployment's lifecycle as a state machine, apart from its I/O.
//!
//! The agent ([`super::agent`]) does the work (staging over MQTT and HTTP,
//! executing the host's commands, probing, writing the store) and reports
//! what came of each step as a [`Report`]; [`Lifecycle::on`] answers with
//! the next [`Action`] and keeps the [`Phase`] the agent writes down and
//! the readiness `/readyz` gives. Every rule of how a deployment ends is
//! here, and is tested here without a broker, a host or a disk: a failure
//! before anything that runs changed ends it `failed`; anything that goes
//! wrong after the first change rolls back; a commit that cannot be kept on
//! disk rolls back too; a stop leaves it pending, reported `interrupted` at
//! the next start (the store's recovery).

use std::time::Duration;

use super::store::{Ending, Phase};

/// What came of the step the agent was asked to take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Report {
    /// The modules and archives were fetched and verified, and the new
    /// manifest checks.
    Staged,
    /// Staging refused the deployment, for this reason.
    StagingFailed(String),
    /// A newer deployment was accepted while this one was staging.
    Superseded,
    /// Every command of the plan was executed.
    Applied,
    /// The host refused a command of the plan.
    Refused {
        /// The refusal.
        why: String,
        /// Since the first change.
        after: Duration,
    },
    /// The probe passed.
    Healthy {
        /// Since the first change.
        after: Duration,
    },
    /// The probe did not pass in its time.
    Unhealthy {
        /// Why, one reason a check.
        reasons: Vec<String>,
        /// Since the first change.
        after: Duration,
    },
    /// The new state is written to disk as committed.
    Kept {
        /// Since the command was accepted.
        since_command: Duration,
    },
    /// The store could not keep the new state, for this reason.
    NotKept(String),
    /// The old state was put back; what could not be (empty: all of it).
    RolledBack(Vec<String>),
    /// The host is stopping.
    Stopping,
}

/// What the agent does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Action {
    /// Fetch and verify what the deployment needs; change nothing that runs.
    Stage,
    /// Execute the plan from what runs to the deployment.
    Apply,
    /// Run the health probe.
    Probe,
    /// Write the new state down as committed.
    Keep,
    /// Take the host back to the last good state.
    RollBack,
    /// The deployment is over: report `ending` with `detail`.
    Finish {
        /// How it ended.
        ending: Ending,
        /// What to say about it.
        detail: String,
    },
    /// Stop here and leave the deployment pending: the next start reports
    /// it interrupted, on the last good state.
    Interrupt,
}

/// Where one deployment stands.
#[derive(Debug)]
pub(crate) struct Lifecycle {
    phase: Phase,
    /// Healthy this long after the first change, once the probe passed.
    healthy_after: Option<Duration>,
    /// Why it is rolling back.
    why: String,
    /// It ended, or was interrupted: no report moves it any more.
    over: bool,
}

impl Lifecycle {
    /// A deployment just accepted, and the first action: staging.
    pub(crate) fn start() -> (Lifecycle, Action) {
        (Lifecycle { phase: Phase::Staging, healthy_after: None, why: String::new(), over: false }, Action::Stage)
    }

    /// The phase to write down.
    pub(crate) fn phase(&self) -> Phase {
        self.phase
    }

    /// Whether the host may say it is ready. Not while what runs is being
    /// changed or put back; during the probe, readiness is the new state's,
    /// which a deployment may check (the device's own `/readyz`).
    pub(crate) fn ready(&self) -> bool {
        self.phase == Phase::Probing
    }

    /// The next action, given what came of the last one. A report that
    /// does not belong to the current phase is a bug in the agent: it is
    /// logged and rolls back (or fails, before any change), so the device
    /// never commits on a confused record.
    pub(crate) fn on(&mut self, report: Report) -> Action {
        if self.over {
            tracing::error!(?report, "fleet: a report after the deployment ended");
            return Action::Interrupt;
        }
        let action = match (self.phase, report) {
            (_, Report::Stopping) if self.phase != Phase::RollingBack => Action::Interrupt,
            (Phase::Staging, Report::Staged) => self.enter(Phase::Applying, Action::Apply),
            (Phase::Staging, Report::StagingFailed(why)) => finish(Ending::Failed, why),
            (Phase::Staging, Report::Superseded) => {
                finish(Ending::Superseded, "a newer deployment arrived while it was staging".to_owned())
            }
            (Phase::Applying, Report::Applied) => self.enter(Phase::Probing, Action::Probe),
            (Phase::Applying, Report::Refused { why, after }) => self.roll_back(unhealthy(after, &[why])),
            (Phase::Probing, Report::Healthy { after }) if self.healthy_after.is_none() => {
                self.healthy_after = Some(after);
                Action::Keep
            }
            (Phase::Probing, Report::Unhealthy { reasons, after }) => self.roll_back(unhealthy(after, &reasons)),
            (Phase::Probing, Report::Kept { since_command }) if self.healthy_after.is_some() => {
                let after = self.healthy_after.unwrap_or_default();
                finish(
                    Ending::Committed,
                    format!(
                        "healthy {:.1} s after the change, {:.1} s after the command",
                        after.as_secs_f64(),
                        since_command.as_secs_f64()
                    ),
                )
            }
            (Phase::Probing, Report::NotKept(e)) if self.healthy_after.is_some() => {
                self.roll_back(format!("healthy, but the new state could not be kept on disk: {e}"))
            }
            (Phase::RollingBack, Report::RolledBack(undone)) if undone.is_empty() => {
                finish(Ending::RolledBack, std::mem::take(&mut self.why))
            }
            (Phase::RollingBack, Report::RolledBack(undone)) => finish(
                Ending::RollbackFailed,
                format!("{}; rolling back left this undone: {}", self.why, undone.join("; ")),
            ),
            (phase, report) => {
                tracing::error!(?phase, ?report, "fleet: a report out of place in a deployment");
                match phase {
                    Phase::Staging => finish(Ending::Failed, format!("the agent went out of step while staging ({report:?})")),
                    Phase::RollingBack => {
                        finish(Ending::RollbackFailed, format!("{}; the agent went out of step rolling back", self.why))
                    }
                    _ => self.roll_back(format!("the agent went out of step ({report:?})")),
                }
            }
        };
        if matches!(action, Action::Finish { .. } | Action::Interrupt) {
            self.over = true;
        }
        action
    }

    fn enter(&mut self, phase: Phase, action: Action) -> Action {
        self.phase = phase;
        action
    }

    fn roll_back(&mut self, why: String) -> Action {
        self.why = why;
        self.enter(Phase::RollingBack, Action::RollBack)
    }
}

fn finish(ending: Ending, detail: String) -> Action {
    Action::Finish { ending, detail }
}

fn unhealthy(after: Duration, reasons: &[String]) -> String {
    format!("unhealthy after {:.1} s: {}", after.as_secs_f64(), reasons.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    const AFTER: Duration = Duration::from_millis(1500);

    fn probed_healthy() -> Report {
        Report::Healthy { after: AFTER }
    }

    /// Runs `reports` from the start; the actions taken, the phase after
    /// each, and whether the host was ready after each.
    fn run(reports: Vec<Report>) -> Vec<(Action, Phase, bool)> {
        let (mut lifecycle, first) = Lifecycle::start();
        let mut seen = vec![(first, lifecycle.phase(), lifecycle.ready())];
        for report in reports {
            let action = lifecycle.on(report);
            seen.push((action, lifecycle.phase(), lifecycle.ready()));
        }
        seen
    }

    fn last(reports: Vec<Report>) -> Action {
        run(reports).pop().expect("an action").0
    }

    #[test]
    fn a_healthy_deployment_is_staged_applied_probed_kept_and_committed() {
        let seen = run(vec![
            Report::Staged,
            Report::Applied,
            probed_healthy(),
            Report::Kept { since_command: Duration::from_secs(4) },
        ]);
        let actions: Vec<&Action> = seen.iter().map(|(a, _, _)| a).collect();
        assert_eq!(
            actions,
            [
                &Action::Stage,
                &Action::Apply,
                &Action::Probe,
                &Action::Keep,
                &Action::Finish {
                    ending: Ending::Committed,
                    detail: "healthy 1.5 s after the change, 4.0 s after the command".to_owned()
                },
            ]
        );
    }

    #[test]
    fn readiness_is_withheld_while_staging_applying_and_rolling_back_and_given_for_the_probe() {
        let seen = run(vec![Report::Staged, Report::Applied, Report::Unhealthy { reasons: vec!["down".into()], after: AFTER }]);
        let readiness: Vec<(Phase, bool)> = seen.iter().map(|(_, phase, ready)| (*phase, *ready)).collect();
        assert_eq!(
            readiness,
            [(Phase::Staging, false), (Phase::Applying, false), (Phase::Probing, true), (Phase::RollingBack, false)]
        );
    }

    #[test]
    fn a_staging_failure_ends_the_deployment_failed_with_nothing_to_undo() {
        let action = last(vec![Report::StagingFailed("actor x: bad signature".into())]);
        assert_eq!(action, Action::Finish { ending: Ending::Failed, detail: "actor x: bad signature".into() });
    }

    #[test]
    fn a_newer_deployment_during_staging_supersedes_it() {
        let action = last(vec![Report::Superseded]);
        assert!(matches!(action, Action::Finish { ending: Ending::Superseded, .. }), "{action:?}");
    }

    #[test]
    fn a_refused_command_rolls_back_and_a_whole_rollback_ends_rolled_back_with_the_refusal() {
        let seen = run(vec![
            Report::Staged,
            Report::Refused { why: "no provider named `kv`".into(), after: AFTER },
            Report::RolledBack(Vec::new()),
        ]);
        assert_eq!(seen[2].0, Action::RollBack);
        assert_eq!(
            seen[3].0,
            Action::Finish { ending: Ending::RolledBack, detail: "unhealthy after 1.5 s: no provider named `kv`".into() }
        );
    }

    #[test]
    fn an_unhealthy_probe_rolls_back_naming_every_reason() {
        let action = last(vec![
            Report::Staged,
            Report::Applied,
            Report::Unhealthy { reasons: vec!["/healthz 503".into(), "counter not running".into()], after: AFTER },
            Report::RolledBack(Vec::new()),
        ]);
        assert_eq!(
            action,
            Action::Finish {
                ending: Ending::RolledBack,
                detail: "unhealthy after 1.5 s: /healthz 503; counter not running".into()
            }
        );
    }

    #[test]
    fn a_rollback_that_leaves_something_undone_ends_rollback_failed_naming_it() {
        let action = last(vec![
            Report::Staged,
            Report::Applied,
            Report::Unhealthy { reasons: vec!["down".into()], after: AFTER },
            Report::RolledBack(vec!["actor counter: no such file".into()]),
        ]);
        assert_eq!(
            action,
            Action::Finish {
                ending: Ending::RollbackFailed,
                detail: "unhealthy after 1.5 s: down; rolling back left this undone: actor counter: no such file".into()
            }
        );
    }

    #[test]
    fn a_healthy_state_that_cannot_be_kept_on_disk_is_rolled_back_not_committed() {
        let seen = run(vec![
            Report::Staged,
            Report::Applied,
            probed_healthy(),
            Report::NotKept("No space left on device".into()),
            Report::RolledBack(Vec::new()),
        ]);
        assert_eq!(seen[4].0, Action::RollBack);
        assert_eq!(
            seen[5].0,
            Action::Finish {
                ending: Ending::RolledBack,
                detail: "healthy, but the new state could not be kept on disk: No space left on device".into()
            }
        );
    }

    #[test]
    fn a_stop_in_any_step_before_the_rollback_leaves_the_deployment_pending() {
        for before in [vec![], vec![Report::Staged], vec![Report::Staged, Report::Applied]] {
            let mut reports = before.clone();
            reports.push(Report::Stopping);
            assert_eq!(last(reports), Action::Interrupt, "after {before:?}");
        }
    }

    #[test]
    fn a_report_out_of_place_never_commits() {
        // A report of a kept commit without a passed probe.
        let action = last(vec![Report::Staged, Report::Applied, Report::Kept { since_command: AFTER }]);
        assert_eq!(action, Action::RollBack);
        // A probe result while staging.
        let action = last(vec![probed_healthy()]);
        assert!(matches!(action, Action::Finish { ending: Ending::Failed, .. }), "{action:?}");
        // Nothing moves a finished deployment.
        let (mut lifecycle, _) = Lifecycle::start();
        lifecycle.on(Report::StagingFailed("bad".into()));
        assert_eq!(lifecycle.on(Report::Staged), Action::Interrupt);
    }
}
