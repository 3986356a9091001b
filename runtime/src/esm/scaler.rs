//! How many batches a mapping works on at once, decided once a second from what its pollers
//! saw — AWS's rules for SQS event sources (Lambda developer guide, services-sqs-scaling and
//! services-sqs-errorhandling):
//!
//! - A mapping starts with five concurrent batches. While messages wait (batches come back
//!   full and no poller sits idle) it adds up to 300 concurrent invocations a minute — five a
//!   second — up to its `ScalingConfig.MaximumConcurrency`, or 1,250 without one. A backlog at
//!   the maximum counts a throttle for that second.
//! - When pollers sit idle (a long poll waiting for messages that do not come) for a few
//!   seconds, the idle ones are retired, down to the five it started with: a second burst
//!   starts from there and scales exactly as the first did.
//! - A FIFO queue needs no rule of its own: a message group is delivered to one batch at a
//!   time, so pollers beyond the active groups find nothing, sit idle and are retired.
//! - Invocations that fail as a whole (function error, crash, timeout) make it back off: each
//!   second with a failure lowers the concurrency by five, to two at least, and it does not
//!   grow that second. With ReportBatchItemFailures it does not back off: failures are the
//!   function's answer, not a sign of overload.
//! - Provisioned mode (`ProvisionedPollerConfig`): the minimum pollers are kept even when the
//!   queue is idle (and failures back off no lower), it grows up to the maximum pollers, three
//!   times as fast (AWS: "3 times faster scaling"). Each of lockgate's pollers runs one batch
//!   at a time.
//!
//! The decision is a pure function of the observations, table-tested below; the mapping
//! applies it (spawning pollers or letting the surplus retire after its current receive).

use crate::template::Scaling;

pub use crate::template::DEFAULT_MAX_CONCURRENCY;

/// Concurrent batches an on-demand mapping starts with, and falls back to when idle.
pub const START: u32 = 5;
/// Concurrency added (or removed by a failure) per second: 300 a minute.
pub const STEP: u32 = 5;
/// Provisioned mode's growth per second.
pub const PROVISIONED_STEP: u32 = 3 * STEP;
/// The least concurrency failures back off to.
pub const BACKOFF_FLOOR: u32 = 2;
/// Seconds in a row with idle pollers before they are retired.
pub const IDLE_SECONDS: u32 = 3;

/// What the pollers saw in the last second.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Observed {
    /// Batches that came back full: more messages are waiting.
    pub full_batches: u64,
    /// Invocations that failed as a whole.
    pub failed_invocations: u64,
    /// Pollers waiting in a long poll for messages that have not come (now).
    pub idle_pollers: u32,
}

/// The scaler's state: the target concurrency and how long pollers have been idle.
#[derive(Debug, Clone)]
pub struct Scaler {
    floor: u32,
    /// What failures back off to.
    backoff_floor: u32,
    max: u32,
    step: u32,
    report_batch_item_failures: bool,
    target: u32,
    idle_seconds: u32,
}

/// What one second's decision says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub target: u32,
    /// A backlog waited while the mapping ran at its maximum (Lambda counts a throttle).
    pub throttled: bool,
}

impl Scaler {
    pub fn new(scaling: Scaling, report_batch_item_failures: bool) -> Self {
        let max = scaling.maximum();
        let (floor, backoff_floor, step) = match scaling {
            Scaling::OnDemand { .. } => (START.min(max), BACKOFF_FLOOR.min(max), STEP),
            Scaling::Provisioned { minimum, .. } => (minimum, minimum, PROVISIONED_STEP),
        };
        Self {
            floor,
            backoff_floor,
            max,
            step,
            report_batch_item_failures,
            target: floor,
            idle_seconds: 0,
        }
    }

    /// The concurrency it falls back to when idle.
    pub fn floor(&self) -> u32 {
        self.floor
    }

    pub fn target(&self) -> u32 {
        self.target
    }

    pub fn max(&self) -> u32 {
        self.max
    }

    /// Decides the next second's target from the last second's observations.
    pub fn tick(&mut self, seen: Observed) -> Decision {
        let mut throttled = false;
        if seen.idle_pollers > 0 {
            self.idle_seconds += 1;
        } else {
            self.idle_seconds = 0;
        }
        if seen.failed_invocations > 0 && !self.report_batch_item_failures {
            self.target = self.target.saturating_sub(STEP).max(self.backoff_floor);
        } else if seen.full_batches > 0 && seen.idle_pollers == 0 {
            if self.target >= self.max {
                throttled = true;
            } else {
                self.target = (self.target + self.step).min(self.max);
            }
        } else if self.idle_seconds >= IDLE_SECONDS && self.target > self.floor {
            // Retire the pollers that found nothing, keeping the floor.
            self.target = self
                .target
                .saturating_sub(seen.idle_pollers)
                .max(self.floor);
            self.idle_seconds = 0;
        }
        Decision {
            target: self.target,
            throttled,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on_demand(max_concurrency: Option<u32>) -> Scaling {
        Scaling::OnDemand { max_concurrency }
    }

    fn backlog() -> Observed {
        Observed {
            full_batches: 10,
            ..Observed::default()
        }
    }

    fn idle(pollers: u32) -> Observed {
        Observed {
            idle_pollers: pollers,
            ..Observed::default()
        }
    }

    fn failing() -> Observed {
        Observed {
            failed_invocations: 3,
            ..Observed::default()
        }
    }

    /// Ticks until the target stops changing; returns it.
    fn settle(s: &mut Scaler, seen: Observed) -> u32 {
        for _ in 0..1000 {
            let before = s.target();
            s.tick(seen);
            if s.target() == before && s.idle_seconds == 0 {
                break;
            }
        }
        s.target()
    }

    #[test]
    fn starts_at_five_and_grows_five_a_second_to_the_maximum() {
        let mut s = Scaler::new(on_demand(Some(20)), false);
        assert_eq!(s.target(), 5);
        let targets: Vec<u32> = (0..5).map(|_| s.tick(backlog()).target).collect();
        assert_eq!(targets, [10, 15, 20, 20, 20]);
        // At the maximum with a backlog: throttled.
        assert!(s.tick(backlog()).throttled);
        let mut s = Scaler::new(on_demand(None), false);
        for _ in 0..300 {
            s.tick(backlog());
        }
        assert_eq!(
            s.target(),
            1250,
            "Lambda's maximum without MaximumConcurrency"
        );
        // 300 a minute.
        let mut s = Scaler::new(on_demand(None), false);
        for _ in 0..60 {
            s.tick(backlog());
        }
        assert_eq!(s.target(), 5 + 300);
    }

    #[test]
    fn a_maximum_below_five_is_where_it_starts() {
        let mut s = Scaler::new(on_demand(Some(2)), false);
        assert_eq!(s.target(), 2);
        assert_eq!(
            s.tick(backlog()),
            Decision {
                target: 2,
                throttled: true
            }
        );
    }

    #[test]
    fn idle_pollers_stop_growth_and_are_retired_after_a_few_seconds() {
        let mut s = Scaler::new(on_demand(Some(100)), false);
        assert_eq!(settle(&mut s, backlog()), 100);
        // Full batches while pollers idle (a FIFO queue with fewer groups than pollers): no
        // growth, and the idle ones go.
        let mixed = Observed {
            full_batches: 5,
            failed_invocations: 0,
            idle_pollers: 60,
        };
        for _ in 1..IDLE_SECONDS {
            assert_eq!(s.tick(mixed).target, 100);
        }
        assert_eq!(s.tick(mixed).target, 40);
        // An idle queue: back to five, never below.
        assert_eq!(settle(&mut s, idle(40)), 5);
        assert_eq!(settle(&mut s, idle(5)), 5);
    }

    #[test]
    fn every_burst_scales_as_the_first() {
        let mut s = Scaler::new(on_demand(Some(20)), false);
        let first: Vec<u32> = (0..4).map(|_| s.tick(backlog()).target).collect();
        assert_eq!(settle(&mut s, idle(20)), 5);
        let second: Vec<u32> = (0..4).map(|_| s.tick(backlog()).target).collect();
        assert_eq!(first, second);
    }

    #[test]
    fn failures_back_off_without_report_batch_item_failures() {
        let mut s = Scaler::new(on_demand(Some(50)), false);
        settle(&mut s, backlog());
        let targets: Vec<u32> = (0..3).map(|_| s.tick(failing()).target).collect();
        assert_eq!(targets, [45, 40, 35]);
        // Failures outweigh a backlog in the same second.
        let both = Observed {
            full_batches: 9,
            failed_invocations: 1,
            idle_pollers: 0,
        };
        assert_eq!(s.tick(both).target, 30);
        assert_eq!(settle(&mut s, failing()), BACKOFF_FLOOR);
        // Recovered: it grows again.
        assert_eq!(s.tick(backlog()).target, BACKOFF_FLOOR + STEP);
    }

    #[test]
    fn provisioned_mode_keeps_its_minimum_and_grows_faster_to_its_maximum() {
        let provisioned = Scaling::Provisioned {
            minimum: 7,
            maximum: 40,
        };
        let mut s = Scaler::new(provisioned, false);
        assert_eq!(s.target(), 7);
        let targets: Vec<u32> = (0..4).map(|_| s.tick(backlog()).target).collect();
        assert_eq!(targets, [22, 37, 40, 40]);
        // Idle: back to the minimum, never below; failures back off no lower either.
        assert_eq!(settle(&mut s, idle(40)), 7);
        assert_eq!(settle(&mut s, idle(7)), 7);
        assert_eq!(settle(&mut s, failing()), 7);
    }

    #[test]
    fn with_report_batch_item_failures_failures_do_not_back_off() {
        let mut s = Scaler::new(on_demand(Some(50)), true);
        settle(&mut s, backlog());
        let both = Observed {
            full_batches: 9,
            failed_invocations: 4,
            idle_pollers: 0,
        };
        assert_eq!(s.tick(failing()).target, 50);
        assert_eq!(s.tick(both).target, 50);
    }
}
