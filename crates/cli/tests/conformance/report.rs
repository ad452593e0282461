//! What one case found: its steps, and the measurements (launch → idle; CLI finished drawing
//! its reply → cao's `completed`). Written as JSON by the case's process, read by the runner.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

pub struct Step {
    name: String,
    started: Instant,
}

#[derive(Default)]
pub struct Report {
    pub case: String,
    pub version: String,
    pub steps: Vec<Value>,
    pub launch_ms: Option<u128>,
    pub completion_delays: Vec<Duration>,
}

impl Report {
    pub fn new(case: &str, version: &str) -> Report {
        Report {
            case: case.to_string(),
            version: version.to_string(),
            ..Report::default()
        }
    }

    pub fn step(&self, name: &str) -> Step {
        eprintln!("conformance[{}]: {name} …", self.case);
        Step {
            name: name.to_string(),
            started: Instant::now(),
        }
    }

    /// Records a step's outcome and passes it on.
    pub fn finish<T>(&mut self, step: Step, outcome: Result<T, String>) -> Result<T, String> {
        let elapsed = step.started.elapsed().as_millis();
        match &outcome {
            Ok(_) => {
                eprintln!(
                    "conformance[{}]: {} ok ({elapsed} ms)",
                    self.case, step.name
                );
                self.steps
                    .push(json!({ "name": step.name, "ok": true, "ms": elapsed }));
            }
            Err(error) => {
                eprintln!(
                    "conformance[{}]: {} FAILED ({elapsed} ms): {error}",
                    self.case, step.name
                );
                self.steps
                    .push(json!({ "name": step.name, "ok": false, "ms": elapsed, "error": error }));
            }
        }
        outcome
    }

    pub fn to_json(&self, failure: Option<&str>) -> Value {
        json!({
            "case": self.case,
            "version": self.version,
            "passed": failure.is_none() && self.steps.iter().all(|step| step["ok"] == true),
            "failure": failure,
            "steps": self.steps,
            "launch_ms": self.launch_ms,
            "completion_delays_ms": self
                .completion_delays
                .iter()
                .map(|delay| delay.as_millis() as u64)
                .collect::<Vec<_>>(),
        })
    }
}

/// The median and maximum of a list of milliseconds.
pub fn median_max(values: &[u64]) -> Option<(u64, u64)> {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let median = *sorted.get(sorted.len() / 2)?;
    Some((median, *sorted.last()?))
}
