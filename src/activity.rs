//! Which requests a tenant's recent activity keeps (see `scimlet tenant activity`): every
//! error, up to [`ERRORS_PER_MINUTE`] per tenant and minute, and one success per tenant, route
//! and minute, so that an identity provider's test connection or first sync shows up without
//! a write per request. Counted per process (each Lambda container keeps its own counts).

use std::collections::HashMap;
use std::sync::Mutex;

use crate::domain::TenantId;

/// Errors kept per tenant and minute by one process.
pub const ERRORS_PER_MINUTE: u32 = 30;

/// Entries of the sampler's map before it is cleared (bounds memory).
const MAX_KEYS: usize = 10_000;

/// (tenant, route or "" for errors) → (minute, entries kept in it).
type Kept = HashMap<(TenantId, &'static str), (u64, u32)>;

/// Decides which requests become activity entries.
#[derive(Debug, Default)]
pub struct Sampler {
    kept: Mutex<Kept>,
}

impl Sampler {
    /// Whether a request of `tenant` on `route`, ending in an error or not, at Unix minute
    /// `minute`, is kept (and counts it if so).
    pub fn admit(&self, tenant: &TenantId, route: &'static str, error: bool, minute: u64) -> bool {
        let (key_route, allowed) = if error {
            ("", ERRORS_PER_MINUTE)
        } else {
            (route, 1)
        };
        let mut kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        if kept.len() >= MAX_KEYS {
            kept.clear();
        }
        let slot = kept
            .entry((tenant.clone(), key_route))
            .or_insert((minute, 0));
        if slot.0 != minute {
            *slot = (minute, 0);
        }
        if slot.1 >= allowed {
            return false;
        }
        slot.1 += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_success_per_route_and_minute_and_errors_up_to_the_bound() {
        let s = Sampler::default();
        let a = TenantId::new("a").unwrap();
        let b = TenantId::new("b").unwrap();
        assert!(s.admit(&a, "users.get", false, 100));
        assert!(!s.admit(&a, "users.get", false, 100));
        assert!(s.admit(&a, "users.list", false, 100));
        assert!(s.admit(&b, "users.get", false, 100));
        assert!(s.admit(&a, "users.get", false, 101));
        let kept = (0..40)
            .filter(|_| s.admit(&a, "users.get", true, 101))
            .count();
        assert_eq!(kept, ERRORS_PER_MINUTE as usize);
        assert!(s.admit(&a, "users.get", true, 102));
    }
}
