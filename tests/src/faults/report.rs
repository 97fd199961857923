//! The figures lines the fault tests print and keep for the run's report (`scripts/figures.py`
//! turns them into `docs/figures.md`).

use super::Figures;

impl Figures {
    /// `fault=<name> k=v ...`: `scripts/figures.py` parses this shape, so it changes only with it.
    pub fn line(&self, name: &str) -> String {
        let recovery = self
            .recovery_ms
            .map_or("n/a".to_owned(), |(p50, p99, max)| format!("p50={p50}ms,p99={p99}ms,max={max}ms"));
        format!(
            "fault={name} attempted={} answered_201={} refused={} surprises={} requests={} stored={} lost={} duplicated={} phantoms={} mismatched={} answered_twice={} parked={} quiet={} recovery={recovery}",
            self.attempted,
            self.answered,
            self.refused,
            self.surprises,
            self.requests,
            self.stored,
            self.lost,
            self.duplicated,
            self.phantoms,
            self.mismatched,
            self.answered_twice,
            self.parked,
            self.quiet,
        )
    }
}

/// Prints the figures line and keeps it for the run's report (`FAULT_FIGURES` file, if set).
pub fn report(name: &str, figures: &Figures) {
    keep(&figures.line(name));
}

/// Prints a figures line and appends it to the run's `FAULT_FIGURES` file, if set.
pub fn keep(line: &str) {
    println!("{line}");
    if let Ok(path) = std::env::var("FAULT_FIGURES") {
        use std::io::Write;
        if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
            let _ = writeln!(f, "{line}");
        }
    }
}
