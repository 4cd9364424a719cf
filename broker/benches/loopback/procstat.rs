//! CPU time from `/proc`: a process's `utime`/`stime`, the whole machine's busy time, and the
//! load average. Linux only; clock ticks are USER_HZ = 100 per second on every Linux
//! architecture this bench runs on (the kernel fixes it for user space).

use std::time::Duration;

const TICK: Duration = Duration::from_millis(10);

/// User and system CPU time of a process (all its threads).
#[derive(Clone, Copy, Debug, Default)]
pub struct Cpu {
    pub user: Duration,
    pub system: Duration,
}

impl Cpu {
    /// `/proc/<pid>/stat` (`"self"` for this process).
    pub fn of(pid: &str) -> Self {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        // Fields after the command name (which may contain spaces) start at field 3 (state);
        // utime and stime are fields 14 and 15.
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks = |i: usize| TICK * fields[i].parse::<u32>().unwrap();
        Self {
            user: ticks(11),
            system: ticks(12),
        }
    }

    pub fn since(self, earlier: Self) -> Self {
        Self {
            user: self.user.saturating_sub(earlier.user),
            system: self.system.saturating_sub(earlier.system),
        }
    }

    pub fn total(self) -> Duration {
        self.user + self.system
    }
}

/// CPU time every process on the machine spent busy (all CPUs), from `/proc/stat`.
pub fn machine_busy() -> Duration {
    let stat = std::fs::read_to_string("/proc/stat").unwrap();
    let line = stat.lines().next().unwrap();
    // cpu user nice system idle iowait irq softirq steal guest guest_nice
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().unwrap())
        .collect();
    let busy = v[0] + v[1] + v[2] + v[5] + v[6];
    TICK * busy as u32
}

/// The 1-minute load average.
pub fn load_average() -> f64 {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap();
    text.split_whitespace().next().unwrap().parse().unwrap()
}
