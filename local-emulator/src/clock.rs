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

#[cfg(test)]
mod tests {
    use super::*;

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
