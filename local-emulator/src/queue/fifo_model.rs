//! Property test of FIFO semantics on the queue engine: random interleavings of send (with
//! repeated dedup ids), receive, delete, visibility changes and the passage of time, checked
//! against a simple model — per-group order, group locking, no duplicate enqueue within the
//! deduplication window, and nothing lost. A group is locked while its head (its first
//! undeleted message) is in flight; a visible head is delivered again even while later
//! messages of its group are in flight (as SQS does), and nothing behind the head is
//! delivered before it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use crate::queue::attributes::QueueAttributes;
use crate::queue::message::md5_of_body;
use crate::queue::receipt::{HandleKey, ReceiptHandle};
use crate::queue::{NewMessage, Queue, ReceiveOptions, SendOutcome};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Send { group: u8, dedup: u8 },
    Receive { max: usize },
    Delete { pick: usize },
    MakeVisible { pick: usize },
    Advance { ms: u64 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..3, 0u8..12).prop_map(|(group, dedup)| Op::Send { group, dedup }),
        3 => (1usize..4).prop_map(|max| Op::Receive { max }),
        3 => any::<usize>().prop_map(|pick| Op::Delete { pick }),
        1 => any::<usize>().prop_map(|pick| Op::MakeVisible { pick }),
        1 => (0u64..40_000).prop_map(|ms| Op::Advance { ms }),
    ]
}

struct InFlight {
    received_ms: u64,
    handle: ReceiptHandle,
    raw: String,
    group: String,
    body: String,
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn fifo_queue_matches_the_model(ops in proptest::collection::vec(op(), 1..120)) {
        let mut attrs = QueueAttributes::defaults(true);
        attrs.visibility_timeout = 30;
        let queue = Queue::new(1, "us-east-1".into(), "000000000000".into(), "m.fifo".into(), attrs, BTreeMap::new(), 0);
        let seqs = AtomicU64::new(1);
        let mut now = 1_000_000u64;
        let mut next_id = 1u128;
        // Model: per group, the bodies enqueued and not yet deleted, in send order.
        let mut pending: HashMap<String, Vec<String>> = HashMap::new();
        let mut dedup_seen: HashMap<String, u64> = HashMap::new();
        let mut enqueued = HashSet::new();
        let mut deleted = HashSet::new();
        let mut in_flight: Vec<InFlight> = Vec::new();

        let receive = |queue: &Queue, now: u64, max: usize, in_flight: &mut Vec<InFlight>, pending: &HashMap<String, Vec<String>>| -> Result<(), TestCaseError> {
            let mut ops = Vec::new();
            let mut moved = Vec::new();
            let got = queue.lock().receive(&ReceiveOptions { max, visibility_s: 30, redrive: None, attempt_id: None }, now, &mut ops, &mut moved).unwrap();
            let mut taken_in_this_receive: HashMap<String, usize> = HashMap::new();
            for d in got {
                let group = d.message.group.as_deref().unwrap_or_default().to_string();
                let body = d.content.as_ref().expect("memory mode keeps contents").body.to_string();
                // Never a message that is still in flight.
                prop_assert!(!in_flight.iter().any(|f| f.body == body), "{body} delivered while in flight");
                // Order and lock: the delivered message is the group's next undeleted one
                // after those this receive already took, so everything before it in its
                // group was delivered by this receive (a head in flight from before locks it).
                let position = taken_in_this_receive.entry(group.clone()).or_insert(0);
                let expected = pending.get(&group).and_then(|p| p.get(*position)).cloned();
                prop_assert_eq!(Some(body.clone()), expected, "order within group {}", group);
                *position += 1;
                let handle = ReceiptHandle { queue_id: 1, seq: d.seq, receive_count: d.message.receive_count, salt: d.message.salt };
                in_flight.push(InFlight { received_ms: now, raw: handle.encode(&HandleKey::new([1; 32])), handle, group, body });
            }
            Ok(())
        };

        for op in ops {
            match op {
                Op::Send { group, dedup } => {
                    let group = format!("g{group}");
                    let dedup_id = format!("d{dedup}");
                    let body = format!("{group}-{dedup_id}-{now}");
                    let id = next_id;
                    next_id += 1;
                    let mut ops = Vec::new();
                    let outcome = queue.lock().send(NewMessage {
                        id,
                        md5_of_body: md5_of_body(&body),
                        body: body.clone().into_boxed_str(),
                        extras: None,
                        group: Some(Arc::from(group.as_str())),
                        delay_s: 0,
                        dedup_key: Some(dedup_id.clone()),
                    }, &seqs, now, &mut ops);
                    let duplicate = dedup_seen.get(&dedup_id).is_some_and(|&at| now < at + 300_000);
                    match outcome {
                        SendOutcome::Enqueued { .. } => {
                            prop_assert!(!duplicate, "a duplicate within the window was enqueued");
                            dedup_seen.insert(dedup_id, now);
                            pending.entry(group).or_default().push(body.clone());
                            enqueued.insert(body);
                        }
                        SendOutcome::Duplicate { .. } => prop_assert!(duplicate, "a fresh dedup id was treated as duplicate"),
                    }
                }
                Op::Receive { max } => receive(&queue, now, max, &mut in_flight, &pending)?,
                Op::Delete { pick } if !in_flight.is_empty() => {
                    let f = in_flight.remove(pick % in_flight.len());
                    let mut ops = Vec::new();
                    queue.lock().delete(&f.handle, &f.raw, now, &mut ops).unwrap();
                    prop_assert!(deleted.insert(f.body.clone()), "deleted twice");
                    let group = pending.get_mut(&f.group).unwrap();
                    group.retain(|b| *b != f.body);
                }
                Op::MakeVisible { pick } if !in_flight.is_empty() => {
                    let f = in_flight.remove(pick % in_flight.len());
                    let mut ops = Vec::new();
                    queue.lock().change_visibility(&f.handle, &f.raw, 0, now, &mut ops).unwrap();
                }
                Op::Advance { ms } => {
                    now += ms;
                    // Messages whose 30 s visibility ended are visible again; their handles
                    // are stale once they are received anew.
                    in_flight.retain(|f| f.received_ms + 30_000 > now);
                }
                _ => {}
            }
            let (_, engine_in_flight, _) = queue.lock().counts();
            let mut ops = Vec::new();
            queue.lock().tick(now, &mut ops);
            let (_, engine_in_flight_now, _) = queue.lock().counts();
            prop_assert!(engine_in_flight_now <= engine_in_flight);
            prop_assert_eq!(engine_in_flight_now as usize, in_flight.len(), "in-flight count matches the model");
        }
        // Drain: let every visibility timeout end, then receive and delete everything.
        now += 60_000;
        in_flight.clear();
        loop {
            let before = in_flight.len();
            receive(&queue, now, 10, &mut in_flight, &pending)?;
            if in_flight.len() == before {
                break;
            }
            while let Some(f) = in_flight.pop() {
                let mut ops = Vec::new();
                queue.lock().delete(&f.handle, &f.raw, now, &mut ops).unwrap();
                prop_assert!(deleted.insert(f.body.clone()), "deleted twice");
                pending.get_mut(&f.group).unwrap().retain(|b| *b != f.body);
            }
        }
        prop_assert_eq!(&deleted, &enqueued, "every enqueued message was delivered and deleted once");
        prop_assert!(queue.lock().is_empty());
    }
}
