//! Tests of the sim through argv, as the layers above drive it.

use super::*;

fn sim() -> SimEngine {
    SimEngine::new()
}
