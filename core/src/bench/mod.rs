//! Measurements behind `keel bench`: each submodule measures one part against its plain
//! baseline in the same process and returns a serializable report.

pub mod classifier;
pub mod decode;
pub mod gate;
pub mod learner;
pub mod steer;
pub mod store;

/// Resident memory of this process in MiB (Linux; 0 elsewhere).
pub fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}
