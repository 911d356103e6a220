//! Raises the process's open-file limit (RLIMIT_NOFILE) from its soft value to
//! its hard value at start: every open partition keeps descriptors, and a
//! broker with thousands of partitions needs far more than the usual 1,024.
//! Must never lower a limit.

const UNLIMITED_CEILING: libc::rlim_t = 1 << 20;

/// The soft and hard limits before and after raising.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Raised {
    pub before: libc::rlim_t,
    pub now: libc::rlim_t,
    pub hard: libc::rlim_t,
}

/// Sets the soft open-file limit to the hard limit.
pub fn raise_to_hard() -> std::io::Result<Raised> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid, writable rlimit for getrlimit to fill.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let before = limit.rlim_cur;
    // Linux refuses an unlimited descriptor count; its usual ceiling is 2^20.
    let target = if limit.rlim_max == libc::RLIM_INFINITY {
        UNLIMITED_CEILING
    } else {
        limit.rlim_max
    };
    if limit.rlim_cur < target {
        let wanted = libc::rlimit {
            rlim_cur: target,
            rlim_max: limit.rlim_max,
        };
        // SAFETY: `wanted` is a valid rlimit; raising the soft limit up to the
        // hard limit needs no privilege.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &wanted) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        limit = wanted;
    }
    Ok(Raised {
        before,
        now: limit.rlim_cur,
        hard: limit.rlim_max,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_soft_limit_ends_at_the_hard_limit_and_never_lower() {
        let raised = raise_to_hard().unwrap();
        assert!(raised.now == raised.hard || raised.now == UNLIMITED_CEILING);
        assert!(raised.now >= raised.before);
        assert_eq!(raise_to_hard().unwrap().before, raised.now);
    }
}
