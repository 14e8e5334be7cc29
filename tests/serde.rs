//! serde support (`cargo test --features serde --test serde`): JSON round
//! trips of RcuHashMap (boxed and inline), RcuList and ConfigCell,
//! duplicate keys, empty structures, removed entries, errors part way
//! through, and serializing while writers run.
#![cfg(feature = "serde")]

use serde::{Deserialize, Serialize};
use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use urcu::urcu_structures::Inline;
use urcu::{ConfigCell, RcuHashMap, RcuList};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Route {
    backend: String,
    weight: u32,
    tags: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
struct Point {
    x: i32,
    y: i32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Config {
    name: String,
    port: u16,
    verbose: bool,
    limits: HashMap<String, u64>,
}

fn route(i: u32) -> Route {
    Route {
        backend: format!("10.0.0.{i}:80"),
        weight: i * 10,
        tags: (0..i % 3).map(|t| format!("t{t}")).collect(),
    }
}

/// The map's entries, cloned (order-free comparison).
fn entries<K, V, S, M>(map: &RcuHashMap<K, V, S, M>) -> HashMap<K, V>
where
    K: Clone + Eq + std::hash::Hash + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    S: std::hash::BuildHasher,
    M: urcu::urcu_structures::MapStorage<K, V>,
{
    map.pin()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn list_items<T: Clone + Send + Sync + 'static>(list: &RcuList<T>) -> Vec<T> {
    let g = list.domain().read_lock();
    list.iter(&g).cloned().collect()
}

#[test]
fn map_with_string_keys_and_struct_values_round_trips() {
    let map: RcuHashMap<String, Route> = RcuHashMap::new();
    let expected: HashMap<String, Route> = (0..100).map(|i| (format!("/r{i}"), route(i))).collect();
    for (k, v) in &expected {
        map.pin().insert(k.clone(), v.clone());
    }
    let json = serde_json::to_string(&map).unwrap();
    // A JSON object: std's HashMap reads it back with the same entries.
    let as_std: HashMap<String, Route> = serde_json::from_str(&json).unwrap();
    assert_eq!(as_std, expected);
    let back: RcuHashMap<String, Route> = serde_json::from_str(&json).unwrap();
    assert_eq!(back.len(), 100);
    assert_eq!(entries(&back), expected);
    assert_eq!(back.get_cloned("/r7"), Some(route(7)));
    // Another hasher (`S: Default`) reads the same text.
    let std_hasher: RcuHashMap<String, Route, RandomState> = serde_json::from_str(&json).unwrap();
    assert_eq!(entries(&std_hasher), expected);
}

#[test]
fn inline_map_round_trips() {
    let map = RcuHashMap::<u32, Point>::builder().inline().build();
    for i in 0..500 {
        map.pin().insert(
            i,
            Point {
                x: i as i32,
                y: -(i as i32),
            },
        );
    }
    let json = serde_json::to_string(&map).unwrap();
    let back: RcuHashMap<u32, Point, ahash::RandomState, Inline> =
        serde_json::from_str(&json).unwrap();
    assert_eq!(back.len(), 500);
    assert_eq!(entries(&back), entries(&map));
    assert_eq!(back.get_cloned(&42), Some(Point { x: 42, y: -42 }));
    // Inline and boxed write the same text for the same entries.
    let boxed: RcuHashMap<u32, Point> = serde_json::from_str(&json).unwrap();
    let again: HashMap<u32, Point> =
        serde_json::from_str(&serde_json::to_string(&boxed).unwrap()).unwrap();
    assert_eq!(again, entries(&map));
}

#[test]
fn list_round_trips_front_to_back() {
    let list: RcuList<Route> = RcuList::new();
    for i in 1..=5 {
        list.push_back(route(i));
    }
    list.push_front(route(0));
    let json = serde_json::to_string(&list).unwrap();
    let expected: Vec<Route> = (0..=5).map(route).collect();
    assert_eq!(json, serde_json::to_string(&expected).unwrap());
    let back: RcuList<Route> = serde_json::from_str(&json).unwrap();
    assert_eq!(back.len(), 6);
    assert_eq!(list_items(&back), expected);

    let words: RcuList<String> = serde_json::from_str(r#"["c", "a", "b", "a"]"#).unwrap();
    assert_eq!(list_items(&words), ["c", "a", "b", "a"]);
    assert_eq!(
        serde_json::to_string(&words).unwrap(),
        r#"["c","a","b","a"]"#
    );
}

#[test]
fn config_cell_is_transparent() {
    let config = Config {
        name: "edge".into(),
        port: 8080,
        verbose: false,
        limits: [("rps".to_string(), 1000)].into_iter().collect(),
    };
    let cell = ConfigCell::new(config.clone());
    let json = serde_json::to_string(&cell).unwrap();
    assert_eq!(json, serde_json::to_string(&config).unwrap());

    let back: ConfigCell<Config> = serde_json::from_str(&json).unwrap();
    assert_eq!(*back.read(), config);
    assert_eq!(back.version(), 0);

    // Serializes the current value, after a store or an update.
    cell.update(|c| Config {
        port: 9090,
        ..c.clone()
    });
    let now: Config = serde_json::from_str(&serde_json::to_string(&cell).unwrap()).unwrap();
    assert_eq!(now.port, 9090);

    let n: ConfigCell<u64> = serde_json::from_str("17").unwrap();
    assert_eq!(
        (*n.read(), serde_json::to_string(&n).unwrap()),
        (17, "17".into())
    );
}

#[test]
fn duplicate_keys_last_one_wins() {
    let small: RcuHashMap<String, u32> =
        serde_json::from_str(r#"{"a": 1, "b": 2, "a": 3}"#).unwrap();
    assert_eq!(small.len(), 2);
    assert_eq!(small.get_cloned("a"), Some(3));
    assert_eq!(small.get_cloned("b"), Some(2));

    // 40 pairs, each key twice, 20 pairs apart: the duplicates fall in
    // different insert batches and in the same one.
    let mut json = String::from("{");
    for round in 0..2 {
        for k in 0..20 {
            json += &format!("\"{k}\": {},", round * 100 + k);
        }
    }
    json.pop();
    json += "}";
    let boxed: RcuHashMap<u32, u32> = serde_json::from_str(&json).unwrap();
    let inline: RcuHashMap<u32, u32, ahash::RandomState, Inline> =
        serde_json::from_str(&json).unwrap();
    let std: HashMap<u32, u32> = serde_json::from_str(&json).unwrap();
    assert_eq!(std.len(), 20);
    assert_eq!(entries(&boxed), std);
    assert_eq!(entries(&inline), std);
    assert_eq!(boxed.len(), 20);
    assert_eq!(inline.len(), 20);
    assert_eq!(boxed.get_cloned(&7), Some(107));
}

#[test]
fn empty_structures() {
    let map: RcuHashMap<String, u32> = RcuHashMap::new();
    assert_eq!(serde_json::to_string(&map).unwrap(), "{}");
    let inline = RcuHashMap::<u64, u64>::builder().inline().build();
    assert_eq!(serde_json::to_string(&inline).unwrap(), "{}");
    let list: RcuList<u32> = RcuList::new();
    assert_eq!(serde_json::to_string(&list).unwrap(), "[]");
    let cell = ConfigCell::new(Vec::<u32>::new());
    assert_eq!(serde_json::to_string(&cell).unwrap(), "[]");

    let map: RcuHashMap<String, u32> = serde_json::from_str("{}").unwrap();
    assert!(map.is_empty());
    let inline: RcuHashMap<u64, u64, ahash::RandomState, Inline> =
        serde_json::from_str(" { } ").unwrap();
    assert!(inline.is_empty());
    let list: RcuList<u32> = serde_json::from_str("[]").unwrap();
    assert!(list.is_empty());
    let cell: ConfigCell<Vec<u32>> = serde_json::from_str("[]").unwrap();
    assert!(cell.read().is_empty());
    // The empty ones still work as usual afterwards.
    map.pin().insert("x".into(), 1);
    list.push_back(1);
    assert_eq!(serde_json::to_string(&map).unwrap(), r#"{"x":1}"#);
    assert_eq!(serde_json::to_string(&list).unwrap(), "[1]");
}

#[test]
fn removed_entries_are_not_serialized() {
    let map: RcuHashMap<String, u32> = RcuHashMap::new();
    let m = map.pin();
    m.insert("kept".into(), 1);
    m.insert("gone".into(), 2);
    let gone = m.remove("gone");
    // Still readable through `m` (a grace period has not passed), yet no
    // longer in the map, so not serialized.
    assert_eq!(gone, Some(&2));
    assert_eq!(serde_json::to_string(&map).unwrap(), r#"{"kept":1}"#);
    drop(m);
    // Replaced: only the new value.
    map.pin().insert("kept".into(), 3);
    assert_eq!(serde_json::to_string(&map).unwrap(), r#"{"kept":3}"#);

    let inline = RcuHashMap::<u32, u32>::builder().inline().build();
    inline.pin().insert(1, 10);
    inline.pin().insert(2, 20);
    inline.pin().remove(&1);
    assert_eq!(serde_json::to_string(&inline).unwrap(), r#"{"2":20}"#);

    let list: RcuList<&str> = ["a", "b", "c"].into_iter().collect();
    let g = list.domain().read_lock();
    let mut walk = list.iter(&g);
    assert_eq!(walk.next(), Some(&"a"));
    assert!(list.remove_first(|s| *s == "b"));
    assert_eq!(serde_json::to_string(&list).unwrap(), r#"["a","c"]"#);
    assert_eq!(walk.last(), Some(&"c")); // the open walk goes on
    drop(g);

    let cell = ConfigCell::new("old".to_string());
    let reader = cell.read();
    cell.store("new".to_string());
    assert_eq!(*reader, "old");
    assert_eq!(serde_json::to_string(&cell).unwrap(), r#""new""#);
}

static MADE: AtomicUsize = AtomicUsize::new(0);
static DROPPED: AtomicUsize = AtomicUsize::new(0);

/// A value that counts how many were deserialized and how many dropped.
#[derive(Debug)]
struct Tracked(u64);

impl<'de> Deserialize<'de> for Tracked {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = u64::deserialize(d)?;
        MADE.fetch_add(1, Ordering::SeqCst);
        Ok(Tracked(v))
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        DROPPED.fetch_add(1, Ordering::SeqCst);
    }
}

/// Every value deserialized is dropped exactly once: replaced duplicates,
/// a map that an error abandons part way, and a finished map.
#[test]
fn every_value_deserialized_is_dropped_once() {
    let pairs = |n: u64| -> String { (0..n).map(|i| format!("\"k{}\": {i},", i % 25)).collect() };

    // An error after 40 values (past two insert batches).
    let bad = format!("{{{} \"late\": \"not a number\"}}", pairs(40));
    let err = serde_json::from_str::<RcuHashMap<String, Tracked>>(&bad).unwrap_err();
    assert!(err.is_data(), "{err}");
    let bad_list = "[1, 2, 3, -4]";
    assert!(serde_json::from_str::<RcuList<Tracked>>(bad_list).is_err());

    let map: RcuHashMap<String, Tracked> =
        serde_json::from_str(&format!("{{{} \"end\": 0}}", pairs(60))).unwrap();
    assert_eq!(map.len(), 26);
    assert_eq!(map.pin().get("k3").map(|t| t.0), Some(53));
    let list: RcuList<Tracked> = serde_json::from_str("[5, 6, 7]").unwrap();
    assert_eq!(list.len(), 3);
    drop(map);
    drop(list);
    urcu::rcu_barrier();
    assert_eq!(MADE.load(Ordering::SeqCst), 40 + 3 + 61 + 3);
    assert_eq!(DROPPED.load(Ordering::SeqCst), MADE.load(Ordering::SeqCst));
}

/// Serializing while a writer inserts and removes other keys: the output
/// always parses, holds every key that stayed exactly once, with its value.
#[test]
fn serializes_a_consistent_snapshot_under_writers() {
    let map: Arc<RcuHashMap<String, u64>> = Arc::new(RcuHashMap::new());
    for i in 0..100 {
        map.pin().insert(format!("s{i}"), i);
    }
    let list: Arc<RcuList<u64>> = Arc::new((0..50).collect());
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (map, list, stop) = (map.clone(), list.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let m = map.pin();
                m.insert(format!("t{}", i % 300), i);
                m.remove(&format!("t{}", (i + 150) % 300));
                drop(m);
                list.push_back(1000 + i);
                list.remove_first(|v| *v >= 1000);
                i += 1;
            }
        })
    };
    for _ in 0..200 {
        let json = serde_json::to_string(&*map).unwrap();
        let parsed: HashMap<String, u64> = serde_json::from_str(&json).unwrap();
        for i in 0..100 {
            assert_eq!(parsed.get(&format!("s{i}")), Some(&i));
            assert_eq!(json.matches(&format!("\"s{i}\":")).count(), 1);
        }
        let items: Vec<u64> =
            serde_json::from_str(&serde_json::to_string(&*list).unwrap()).unwrap();
        assert_eq!(items[..50], (0..50).collect::<Vec<_>>()[..]);
        assert!(items[50..].iter().all(|v| *v >= 1000));
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
}
