//! Coherency simulator: one buffer's memory and CPU cache under a worst-case adversary.
//!
//! Every event touches the whole buffer, so every cache line goes through the same history and
//! one representative line stands for all of them. The line holds a *version* (a count of writes);
//! a read is correct when it returns the newest version. The cache is adversarial, choosing at each
//! check the behaviour that makes it fail:
//!
//! - a dirty line may be evicted at any moment, so a non-coherent device write while the line is
//!   dirty is a **lost write** (the old line lands on top of the device's data — the simulation then
//!   lets that happen), while a non-coherent device read before the clean sees memory without it;
//! - a line may be prefetched speculatively at any moment, so when a non-coherent device writes
//!   memory an invalid line may already hold the old data;
//! - a CPU write may cover part of a line, so it reads the rest of the line first: writing into a
//!   stale line is a **stale read**;
//! - a snooping (coherent) device is answered from the CPU cache when the line is there, clean or
//!   dirty, and its writes drop the CPU's copy;
//! - invalidating a dirty line discards it: if it held the newest data, that is a lost write.
//!
//! An uncached (write-combined) mapping has no line at all: every access goes to memory.

/// What the representative cache line holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Line {
    /// Not cached.
    Invalid,
    /// Cached, same as memory was when it was filled.
    Clean(u32),
    /// Cached and written by the CPU since.
    Dirty(u32),
}

/// One primitive step: an access or a cache operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Step {
    /// Write dirty lines back to memory (they stay cached, clean).
    Clean,
    /// Drop every line, dirty ones included.
    Invalidate,
    /// The CPU reads through its mapping.
    CpuRead,
    /// The CPU writes (part of) the buffer through its mapping.
    CpuWrite,
    /// A device reads; `coherent` when it snoops the CPU caches.
    DeviceRead {
        /// Snoops the CPU caches.
        coherent: bool,
    },
    /// A device writes; `coherent` when it snoops the CPU caches.
    DeviceWrite {
        /// Snoops the CPU caches.
        coherent: bool,
    },
}

/// Errors a step exposed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Faults {
    /// Reads (CPU or device) that returned an older version than the newest written.
    pub stale_reads: u32,
    /// Writes whose data was destroyed by an older line or discarded.
    pub lost_writes: u32,
}

impl Faults {
    /// Whether nothing went wrong.
    pub const fn is_none(self) -> bool {
        self.stale_reads == 0 && self.lost_writes == 0
    }
}

impl std::ops::AddAssign for Faults {
    fn add_assign(&mut self, rhs: Faults) {
        self.stale_reads += rhs.stale_reads;
        self.lost_writes += rhs.lost_writes;
    }
}

/// One buffer: memory, the CPU's cache line for it, and the newest version anyone wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BufferModel {
    cached: bool,
    memory: u32,
    latest: u32,
    line: Line,
}

impl BufferModel {
    /// A zero-filled buffer, CPU mapping cached or not.
    pub const fn new(cached: bool) -> BufferModel {
        BufferModel {
            cached,
            memory: 0,
            latest: 0,
            line: Line::Invalid,
        }
    }

    /// The cache line's content.
    pub const fn line(&self) -> Line {
        self.line
    }

    /// The same state with versions renumbered (newest 0, memory's next, the line's next), so
    /// states that behave the same from here on compare equal.
    pub fn canonical(&self) -> BufferModel {
        let mut seen = [self.latest, u32::MAX, u32::MAX];
        let mut rank = |v: u32| -> u32 {
            match seen.iter().position(|&s| s == v) {
                Some(i) => i as u32,
                None => {
                    let i = seen.iter().position(|&s| s == u32::MAX).unwrap_or(2);
                    seen[i] = v;
                    i as u32
                }
            }
        };
        let latest = rank(self.latest);
        let memory = rank(self.memory);
        let line = match self.line {
            Line::Invalid => Line::Invalid,
            Line::Clean(v) => Line::Clean(rank(v)),
            Line::Dirty(v) => Line::Dirty(rank(v)),
        };
        BufferModel {
            cached: self.cached,
            memory,
            latest,
            line,
        }
    }

    /// Applies one step; returns what it exposed.
    pub fn apply(&mut self, step: Step) -> Faults {
        let mut faults = Faults::default();
        let stale = |version: u32, latest: u32| u32::from(version != latest);
        match step {
            Step::Clean => {
                if let Line::Dirty(v) = self.line {
                    self.memory = v;
                    self.line = Line::Clean(v);
                }
            }
            Step::Invalidate => {
                if let Line::Dirty(v) = self.line {
                    if v == self.latest && self.memory != v {
                        faults.lost_writes += 1;
                    }
                }
                self.line = Line::Invalid;
            }
            Step::CpuRead => {
                faults.stale_reads += stale(self.cpu_view(), self.latest);
                if self.cached && self.line == Line::Invalid {
                    self.line = Line::Clean(self.memory);
                }
            }
            Step::CpuWrite => {
                faults.stale_reads += stale(self.cpu_view(), self.latest);
                let version = self.next_version();
                if self.cached {
                    self.line = Line::Dirty(version);
                } else {
                    self.memory = version;
                }
            }
            Step::DeviceRead { coherent } => {
                let seen = match self.line {
                    Line::Clean(v) | Line::Dirty(v) if coherent && self.cached => v,
                    _ => self.memory,
                };
                faults.stale_reads += stale(seen, self.latest);
            }
            Step::DeviceWrite { coherent: true } => {
                // The snoop merges a dirty line into the write and drops the CPU's copy.
                if let Line::Dirty(v) = self.line {
                    self.memory = v;
                }
                faults.stale_reads += stale(self.memory, self.latest);
                self.memory = self.next_version();
                self.line = Line::Invalid;
            }
            Step::DeviceWrite { coherent: false } => {
                // A partial write keeps the rest of memory: memory must be the newest too.
                let dirty = matches!(self.line, Line::Dirty(_));
                if !dirty {
                    faults.stale_reads += stale(self.memory, self.latest);
                }
                let before = self.memory;
                self.memory = self.next_version();
                match self.line {
                    Line::Dirty(v) => {
                        // Evicted right after the device's write: the device's data is gone.
                        faults.lost_writes += 1;
                        self.memory = v;
                        self.line = Line::Clean(v);
                    }
                    // Prefetched just before the device's write.
                    Line::Invalid if self.cached => self.line = Line::Clean(before),
                    _ => {}
                }
            }
        }
        faults
    }

    /// What a CPU load would return now.
    fn cpu_view(&self) -> u32 {
        match self.line {
            Line::Clean(v) | Line::Dirty(v) if self.cached => v,
            _ => self.memory,
        }
    }

    fn next_version(&mut self) -> u32 {
        // Canonical states renumber below 3, so the newest version stays small.
        self.latest = self.latest.max(self.memory).max(match self.line {
            Line::Clean(v) | Line::Dirty(v) => v,
            Line::Invalid => 0,
        }) + 1;
        self.latest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(cached: bool, steps: &[Step]) -> Faults {
        let mut model = BufferModel::new(cached);
        let mut faults = Faults::default();
        for &s in steps {
            faults += model.apply(s);
        }
        faults
    }

    const NC_READ: Step = Step::DeviceRead { coherent: false };
    const NC_WRITE: Step = Step::DeviceWrite { coherent: false };
    const C_READ: Step = Step::DeviceRead { coherent: true };

    #[test]
    fn cpu_write_then_non_coherent_read_needs_a_clean() {
        assert_eq!(run(true, &[Step::CpuWrite, NC_READ]).stale_reads, 1);
        assert!(run(true, &[Step::CpuWrite, Step::Clean, NC_READ]).is_none());
        assert!(run(true, &[Step::CpuWrite, C_READ]).is_none());
        assert!(run(false, &[Step::CpuWrite, NC_READ]).is_none());
    }

    #[test]
    fn device_write_then_cpu_read_needs_an_invalidate_even_untouched() {
        // Prefetch: the CPU never touched the buffer, yet the line may hold the old data.
        assert_eq!(run(true, &[NC_WRITE, Step::CpuRead]).stale_reads, 1);
        assert!(run(true, &[NC_WRITE, Step::Invalidate, Step::CpuRead]).is_none());
        assert!(run(false, &[NC_WRITE, Step::CpuRead]).is_none());
        // A partial CPU write merges into the stale line.
        assert_eq!(run(true, &[NC_WRITE, Step::CpuWrite]).stale_reads, 1);
        // A snooping device would be answered from the stale line.
        assert_eq!(run(true, &[NC_WRITE, C_READ]).stale_reads, 1);
    }

    #[test]
    fn dirty_lines_over_device_data_are_lost_writes() {
        assert_eq!(run(true, &[Step::CpuWrite, NC_WRITE]).lost_writes, 1);
        assert!(run(true, &[Step::CpuWrite, Step::Clean, NC_WRITE]).is_none());
        // Invalidating the CPU's only copy of its write loses it.
        assert_eq!(
            run(true, &[Step::CpuWrite, Step::Invalidate]).lost_writes,
            1
        );
        assert!(run(true, &[Step::CpuWrite, Step::Clean, Step::Invalidate]).is_none());
    }

    #[test]
    fn device_to_device_needs_nothing() {
        let w = Step::DeviceWrite { coherent: true };
        assert!(run(
            true,
            &[NC_WRITE, NC_READ, w, NC_READ, C_READ, NC_WRITE, NC_READ]
        )
        .is_none());
    }

    #[test]
    fn canonical_states_compare_equal() {
        let mut a = BufferModel::new(true);
        let mut b = BufferModel::new(true);
        a.apply(Step::CpuWrite);
        for _ in 0..5 {
            b.apply(Step::CpuWrite);
        }
        assert_eq!(a.canonical(), b.canonical());
        assert_ne!(a.canonical(), BufferModel::new(true).canonical());
    }
}
