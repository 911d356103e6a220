//! The cap on how many partitions one CreateTopics or CreatePartitions request
//! may create, as Kafka's KRaft controller enforces it (10,000 per request,
//! POLICY_VIOLATION beyond). It only counts; it must never look at storage.

/// Most partitions one request may create (Kafka's `MAX_PARTITIONS_PER_BATCH`).
pub const MAX_PARTITIONS_PER_REQUEST: u64 = 10_000;

/// Kafka's message when a request asks for more.
pub const TOO_MANY_PARTITIONS: &str = "Excessively large number of partitions per request.";

/// What one CreateTopics entry asks for, as the cap counts it.
#[derive(Debug, Clone, Copy)]
pub struct RequestedTopic {
    pub num_partitions: i32,
    pub assignments: usize,
}

/// Partitions a CreateTopics request would create, counted as Kafka counts
/// them: the assignments when given, else the partition count (-1 meaning
/// the broker default); invalid counts add nothing (they fail on their own).
pub fn requested_partitions(
    topics: impl IntoIterator<Item = RequestedTopic>,
    default_partitions: i32,
) -> u64 {
    topics
        .into_iter()
        .map(|t| {
            if t.assignments > 0 {
                t.assignments as u64
            } else {
                match t.num_partitions {
                    -1 => u64::try_from(default_partitions).unwrap_or(0),
                    n => u64::try_from(n).unwrap_or(0),
                }
            }
        })
        .fold(0u64, u64::saturating_add)
}

/// Whether a CreateTopics request stays within the cap.
pub fn create_topics_allowed(
    topics: impl IntoIterator<Item = RequestedTopic>,
    default_partitions: i32,
) -> bool {
    requested_partitions(topics, default_partitions) <= MAX_PARTITIONS_PER_REQUEST
}

/// The partitions a CreatePartitions request may still add: each topic's
/// growth is charged in request order, and a topic that would cross the cap
/// is refused without being charged.
#[derive(Debug)]
pub struct PartitionBudget {
    left: u64,
}

impl Default for PartitionBudget {
    fn default() -> Self {
        PartitionBudget {
            left: MAX_PARTITIONS_PER_REQUEST,
        }
    }
}

impl PartitionBudget {
    /// Charges `additional` partitions; false (and nothing charged) when they
    /// do not fit.
    pub fn charge(&mut self, additional: u64) -> bool {
        if additional > self.left {
            return false;
        }
        self.left -= additional;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(num_partitions: i32, assignments: usize) -> RequestedTopic {
        RequestedTopic {
            num_partitions,
            assignments,
        }
    }

    #[test]
    fn the_cap_is_inclusive_and_sums_over_topics() {
        assert!(create_topics_allowed([t(10_000, 0)], 1));
        assert!(!create_topics_allowed([t(10_001, 0)], 1));
        assert!(!create_topics_allowed(
            [t(5_000, 0), t(5_000, 0), t(1, 0)],
            1
        ));
        assert!(create_topics_allowed([t(5_000, 0), t(5_000, 0)], 1));
    }

    #[test]
    fn the_largest_partition_count_is_refused() {
        assert!(!create_topics_allowed([t(i32::MAX, 0)], 1));
        assert_eq!(
            requested_partitions([t(i32::MAX, 0), t(i32::MAX, 0)], 1),
            2 * i32::MAX as u64
        );
    }

    #[test]
    fn defaults_assignments_and_invalid_counts_are_counted_as_kafka_does() {
        assert_eq!(requested_partitions([t(-1, 0)], 7), 7);
        assert_eq!(requested_partitions([t(-1, 3)], 7), 3);
        assert_eq!(requested_partitions([t(0, 0), t(-5, 0)], 7), 0);
        assert!(!create_topics_allowed([t(-1, 0), t(-1, 2)], 9_999));
    }

    #[test]
    fn the_budget_refuses_growth_past_the_cap_without_charging_it() {
        let mut budget = PartitionBudget::default();
        assert!(!budget.charge(i32::MAX as u64));
        assert!(budget.charge(6_000));
        assert!(!budget.charge(4_001));
        assert!(budget.charge(4_000));
        assert!(!budget.charge(1));
        assert!(budget.charge(0));
    }
}
