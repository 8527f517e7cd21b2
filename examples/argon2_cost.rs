//! Measures the CPU time of one argon2id verification with scimlet's parameters (what a cold
//! token check, or a password in a create, costs). Run it in release mode:
//!
//! ```sh
//! cargo run --release --example argon2_cost
//! ```
//!
//! Prints the median and the spread over 30 verifications. A verification is single-threaded
//! and CPU-bound, so on an otherwise idle machine its wall time is its CPU time.

use std::time::{Duration, Instant};

fn main() {
    let phc =
        scimlet::auth::hash_secret("a token secret of realistic length, 43 chars").expect("hash");
    let mut samples: Vec<Duration> = (0..30)
        .map(|_| {
            let start = Instant::now();
            assert!(scimlet::auth::verify_secret(
                "a token secret of realistic length, 43 chars",
                &phc
            ));
            start.elapsed()
        })
        .collect();
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "argon2id m={} KiB, t={}, p={}: one verification takes median {:.1} ms (min {:.1}, max {:.1}) over {} runs",
        scimlet::auth::ARGON2_M_KIB,
        scimlet::auth::ARGON2_T,
        scimlet::auth::ARGON2_P,
        ms(samples[samples.len() / 2]),
        ms(samples[0]),
        ms(samples[samples.len() - 1]),
        samples.len()
    );
}
