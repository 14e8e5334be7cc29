//! `serde` support (the `serde` feature): [`RcuHashMap`] as a map,
//! [`RcuList`] as a sequence, [`ConfigCell`] as its current value.
//!
//! Serializing reads a snapshot inside one read-side section of the
//! structure's own domain. The map and the list first collect references
//! to what that section sees, then write them: the length announced before
//! the elements (binary formats such as bincode write it first) is then
//! the number written, even while writers change the structure. That costs
//! one vector of references for the duration of the call.
//!
//! Deserializing builds a new structure in the default domain.

use crate::{ConfigCell, MapStorage, RcuHashMap, RcuList};
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::marker::PhantomData;

/// How many elements to make room for from a format's size hint: at most
/// about 1 MiB of them, so a hostile hint cannot allocate without bound
/// (the structure grows as usual past that).
fn cautious<E>(hint: Option<usize>) -> usize {
    const MAX_PREALLOC_BYTES: usize = 1024 * 1024;
    hint.unwrap_or(0)
        .min(MAX_PREALLOC_BYTES / std::mem::size_of::<E>().max(1))
}

/// Serializes the map as a map (in unspecified order): the entries one
/// read-side section sees (as [`Pinned::iter`](crate::Pinned::iter)
/// yields them: each key once; an entry inserted or removed meanwhile may
/// or may not be in). Available with the `serde` feature.
///
/// ```
/// use urcu_structures::RcuHashMap;
///
/// let routes: RcuHashMap<String, u32> = RcuHashMap::new();
/// routes.pin().insert("/home".to_string(), 1);
/// assert_eq!(serde_json::to_string(&routes).unwrap(), r#"{"/home":1}"#);
/// ```
impl<K, V, S, M> Serialize for RcuHashMap<K, V, S, M>
where
    K: Serialize + Hash + Eq + Send + Sync + 'static,
    V: Serialize + Send + Sync + 'static,
    S: BuildHasher,
    M: MapStorage<K, V>,
{
    fn serialize<Ser: Serializer>(&self, serializer: Ser) -> Result<Ser::Ok, Ser::Error> {
        let pinned = self.pin();
        let entries: Vec<(&K, &V)> = pinned.iter().collect();
        let mut map = serializer.serialize_map(Some(entries.len()))?;
        for (k, v) in entries {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// Deserializes a map into a new `RcuHashMap` (default domain, hasher
/// `S::default()`, storage [`Boxed`](crate::Boxed) or
/// [`Inline`](crate::Inline) as the type says). Where a key comes twice,
/// the last value wins, as with `std`'s `HashMap`. Pairs are inserted as
/// [`Extend`] does, a few at a time, each batch in its own read-side
/// section. Available with the `serde` feature.
///
/// ```
/// use urcu_structures::{Inline, RcuHashMap};
///
/// let json = r#"{"/home": 1, "/about": 2, "/home": 3}"#;
/// let routes: RcuHashMap<String, u32> = serde_json::from_str(json).unwrap();
/// assert_eq!((routes.len(), routes.get_cloned("/home")), (2, Some(3)));
///
/// // Inline storage, and a hasher of your choice (`S: Default`):
/// type Ports = RcuHashMap<u16, u32, std::collections::hash_map::RandomState, Inline>;
/// let ports: Ports = serde_json::from_str(r#"{"80": 2, "443": 5}"#).unwrap();
/// assert_eq!(ports.get_cloned(&443), Some(5));
/// ```
impl<'de, K, V, S, M> Deserialize<'de> for RcuHashMap<K, V, S, M>
where
    K: Deserialize<'de> + Hash + Eq + Send + Sync + 'static,
    V: Deserialize<'de> + Send + Sync + 'static,
    S: BuildHasher + Default,
    M: MapStorage<K, V>,
{
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(MapVisitor(PhantomData))
    }
}

/// Marks the types a visitor makes (covariant, and `Send`/`Sync`
/// whatever they are).
type Makes<T> = PhantomData<fn() -> T>;

struct MapVisitor<K, V, S, M>(Makes<(K, V, S, M)>);

impl<'de, K, V, S, M> Visitor<'de> for MapVisitor<K, V, S, M>
where
    K: Deserialize<'de> + Hash + Eq + Send + Sync + 'static,
    V: Deserialize<'de> + Send + Sync + 'static,
    S: BuildHasher + Default,
    M: MapStorage<K, V>,
{
    type Value = RcuHashMap<K, V, S, M>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
        let map = RcuHashMap::<K, V>::builder()
            .capacity(cautious::<(K, V)>(access.size_hint()))
            .hasher(S::default())
            .storage::<M>()
            .build();
        // `Extend` for `&RcuHashMap` inserts in order (so the last of
        // duplicate keys wins) and in batches; it takes an infallible
        // iterator, so the first error stops the pairs and is kept here.
        let mut error = None;
        (&map).extend(Entries {
            access: &mut access,
            error: &mut error,
            _pairs: PhantomData,
        });
        match error {
            Some(e) => Err(e), // `map` and what it holds go to the queue
            None => Ok(map),
        }
    }
}

/// The pairs of a [`MapAccess`] until its end or its first error.
struct Entries<'a, 'de, A: MapAccess<'de>, K, V> {
    access: &'a mut A,
    error: &'a mut Option<A::Error>,
    _pairs: Makes<(K, V, &'de ())>,
}

impl<'de, A, K, V> Iterator for Entries<'_, 'de, A, K, V>
where
    A: MapAccess<'de>,
    K: Deserialize<'de>,
    V: Deserialize<'de>,
{
    type Item = (K, V);

    fn next(&mut self) -> Option<(K, V)> {
        if self.error.is_some() {
            return None;
        }
        match self.access.next_entry() {
            Ok(pair) => pair,
            Err(e) => {
                *self.error = Some(e);
                None
            }
        }
    }
}

/// Serializes the list as a sequence, front to back: the elements one
/// read-side section sees (an element pushed or removed meanwhile may or
/// may not be in). Available with the `serde` feature.
///
/// ```
/// use urcu_structures::RcuList;
///
/// let list: RcuList<&str> = ["ann", "bob"].into_iter().collect();
/// list.push_front("al");
/// assert_eq!(serde_json::to_string(&list).unwrap(), r#"["al","ann","bob"]"#);
/// ```
impl<T: Serialize + Send + Sync + 'static> Serialize for RcuList<T> {
    fn serialize<Ser: Serializer>(&self, serializer: Ser) -> Result<Ser::Ok, Ser::Error> {
        let guard = self.domain().read_lock();
        let items: Vec<&T> = self.iter(&guard).collect();
        let mut seq = serializer.serialize_seq(Some(items.len()))?;
        for item in items {
            seq.serialize_element(item)?;
        }
        seq.end()
    }
}

/// Deserializes a sequence into a new `RcuList` (default domain), in
/// order: the sequence's first element is the list's front. Available
/// with the `serde` feature.
///
/// ```
/// use urcu_structures::RcuList;
///
/// let list: RcuList<u32> = serde_json::from_str("[3, 1, 2]").unwrap();
/// let g = list.domain().read_lock();
/// assert_eq!(list.iter(&g).copied().collect::<Vec<_>>(), [3, 1, 2]);
/// ```
impl<'de, T: Deserialize<'de> + Send + Sync + 'static> Deserialize<'de> for RcuList<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_seq(ListVisitor(PhantomData))
    }
}

struct ListVisitor<T>(Makes<T>);

impl<'de, T: Deserialize<'de> + Send + Sync + 'static> Visitor<'de> for ListVisitor<T> {
    type Value = RcuList<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a sequence")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let list = RcuList::new();
        while let Some(item) = seq.next_element()? {
            list.push_back(item);
        }
        Ok(list)
    }
}

/// Serializes the cell as its current value, transparently (as `T`
/// would), read in one read-side section. Available with the `serde`
/// feature.
///
/// ```
/// use urcu_structures::ConfigCell;
///
/// let hosts = ConfigCell::new(vec!["a.example"]);
/// hosts.update(|h| [h.as_slice(), &["b.example"]].concat());
/// assert_eq!(serde_json::to_string(&hosts).unwrap(), r#"["a.example","b.example"]"#);
/// ```
impl<T: Serialize + Send + Sync + 'static> Serialize for ConfigCell<T> {
    fn serialize<Ser: Serializer>(&self, serializer: Ser) -> Result<Ser::Ok, Ser::Error> {
        T::serialize(&self.read(), serializer)
    }
}

/// Deserializes a `T` into a new cell (default domain, version 0).
/// Available with the `serde` feature.
///
/// ```
/// use urcu_structures::ConfigCell;
///
/// let timeout: ConfigCell<u64> = serde_json::from_str("30").unwrap();
/// assert_eq!((*timeout.read(), timeout.version()), (30, 0));
/// ```
impl<'de, T: Deserialize<'de> + Send + Sync + 'static> Deserialize<'de> for ConfigCell<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize(deserializer).map(ConfigCell::new)
    }
}
