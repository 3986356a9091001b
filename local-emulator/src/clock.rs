//! The one source of time for SQS semantics: visibility timeouts, delays, retention, the
//! deduplication and receive-attempt windows, the deleted-name reservation, the PurgeQueue
//! interval, long-poll deadlines and request signatures. [`SystemClock`] is the wall clock;
//! [`ManualClock`] moves only when told, so tests check minute-long rules in milliseconds.
//!
//! Network timeouts (slow headers or bodies) stay on the runtime's own timers: they protect the
//! server in real time whatever the clock says.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;

/// A future that resolves once the clock has reached a time.
pub type Sleep<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

pub trait Clock: Send + Sync + fmt::Debug {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> u64;

    /// Resolves once [`Clock::now_ms`] is at least `at_ms` (at once if it already is).
    fn sleep_until_ms(&self, at_ms: u64) -> Sleep<'_>;
}

/// How every part of the emulator holds its clock.
pub type SharedClock = Arc<dyn Clock>;

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl SystemClock {
    pub fn shared() -> SharedClock {
        Arc::new(SystemClock)
    }
}

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or_default()
    }

    fn sleep_until_ms(&self, at_ms: u64) -> Sleep<'_> {
        Box::pin(async move {
            // Re-checked after each sleep: the wall clock may have been set back meanwhile.
            loop {
                let now = self.now_ms();
                if now >= at_ms {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(at_ms - now)).await;
            }
        })
    }
}

/// A clock that stands still until [`ManualClock::advance`] or [`ManualClock::set`] moves it
/// (never backwards); sleepers wake as it passes their time.
#[derive(Debug)]
pub struct ManualClock {
    now: watch::Sender<u64>,
}

impl ManualClock {
    /// A clock reading `start_ms`.
    pub fn starting_at(start_ms: u64) -> Arc<Self> {
        Arc::new(Self {
            now: watch::Sender::new(start_ms),
        })
    }

    /// A clock reading the wall clock's time now (so signatures made now still verify).
    pub fn starting_now() -> Arc<Self> {
        Self::starting_at(SystemClock.now_ms())
    }

    pub fn advance(&self, by: Duration) {
        self.now.send_modify(|now| *now += by.as_millis() as u64);
    }

    /// Moves the clock to `at_ms` if that is later than now.
    pub fn set(&self, at_ms: u64) {
        self.now.send_modify(|now| *now = (*now).max(at_ms));
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        *self.now.borrow()
    }

    fn sleep_until_ms(&self, at_ms: u64) -> Sleep<'_> {
        let mut now = self.now.subscribe();
        Box::pin(async move {
            // The sender lives as long as `self`, which this future borrows.
            let _ = now.wait_for(|now| *now >= at_ms).await;
        })
    }
}

/// The calendar date (year, month, day) `days` after 1970-01-01, proleptic Gregorian (Howard
/// Hinnant's `civil_from_days`): for timestamps in SQS's and Lambda's formats.
pub fn civil_date(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_date(0), (1970, 1, 1));
        assert_eq!(civil_date(-1), (1969, 12, 31));
        assert_eq!(civil_date(19_782), (2024, 2, 29));
        assert_eq!(civil_date(20_787), (2026, 11, 30));
    }

    #[tokio::test]
    async fn a_manual_clock_wakes_sleepers_as_it_passes_their_time() {
        let clock = ManualClock::starting_at(1_000);
        let early = clock.sleep_until_ms(500);
        tokio::time::timeout(Duration::from_secs(5), early)
            .await
            .expect("a time already passed resolves at once");
        let clock2 = clock.clone();
        let sleeper = tokio::spawn(async move { clock2.sleep_until_ms(61_000).await });
        clock.advance(Duration::from_secs(30));
        tokio::task::yield_now().await;
        assert!(!sleeper.is_finished());
        clock.advance(Duration::from_secs(30));
        tokio::time::timeout(Duration::from_secs(5), sleeper)
            .await
            .expect("woken when the clock reaches its time")
            .unwrap();
        clock.set(10);
        assert_eq!(clock.now_ms(), 61_000, "never backwards");
    }
}
