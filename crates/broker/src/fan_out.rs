//! Runs blocking per-item work (opening, creating, closing partition logs) on
//! a bounded number of threads, keeping the results in item order. Storage
//! work is dominated by waiting on the disk, so a few more threads than cores
//! pay off; unbounded parallelism would not.

/// Threads used at most.
const WORKERS: usize = 8;

/// Applies `f` to every item on up to [`WORKERS`] scoped threads and returns
/// the results in the order of `items`.
pub fn fan_out<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    if items.len() < 2 {
        return items.iter().map(&f).collect();
    }
    let chunk = items.len().div_ceil(WORKERS);
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(f).collect::<Vec<R>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| match h.join() {
                Ok(results) => results,
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::fan_out;

    #[test]
    fn results_keep_the_order_of_the_items() {
        let items: Vec<u32> = (0..1000).collect();
        assert_eq!(
            fan_out(&items, |i| i * 2),
            items.iter().map(|i| i * 2).collect::<Vec<_>>()
        );
        assert_eq!(fan_out(&[7u32], |i| i + 1), vec![8]);
        assert!(fan_out(&[] as &[u32], |i| *i).is_empty());
    }
}
