//! Interval jitter (`--interval-jitter-percentage`): spreads requeues uniformly in
//! `interval ± percentage`.

use std::time::Duration;

/// `interval` moved by `(2 * unit - 1) * percentage`%, where `unit` is in `[0, 1)`.
pub fn jittered(interval: Duration, percentage: u8, unit: f64) -> Duration {
    let unit = unit.clamp(0.0, 1.0);
    let factor = 1.0 + (2.0 * unit - 1.0) * f64::from(percentage.min(99)) / 100.0;
    interval.mul_f64(factor)
}

/// `interval` with random jitter.
pub fn jittered_random(interval: Duration, percentage: u8) -> Duration {
    jittered(interval, percentage, rand::random::<f64>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_the_percentage() {
        let minute = Duration::from_secs(60);
        let cases = [(0.0, 57.0), (0.5, 60.0), (1.0, 63.0), (0.25, 58.5)];
        for (unit, secs) in cases {
            assert_eq!(
                jittered(minute, 5, unit),
                Duration::from_secs_f64(secs),
                "{unit}"
            );
        }
        assert_eq!(jittered(minute, 0, 0.9), minute);
        for _ in 0..100 {
            let d = jittered_random(minute, 5);
            assert!(d >= Duration::from_secs(57) && d <= Duration::from_secs(63));
        }
    }
}
