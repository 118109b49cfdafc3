//! The object store: every object as JSON under one global, growing resourceVersion, an event
//! log for watches (with a compaction floor; the only copy of past events: watchers are told
//! the newest resourceVersion and read what they missed from the log), and optional
//! persistence as an append-only journal in `--data-dir`.

use std::collections::{BTreeMap, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{Value, json};
use tokio::sync::watch;

/// Where an object lives: (group, plural, namespace, name). Cluster-scoped objects have an
/// empty namespace.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey {
    /// API group.
    pub group: String,
    /// Plural resource.
    pub resource: String,
    /// Namespace, empty for cluster-scoped objects.
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl ObjectKey {
    /// Builds a key.
    pub fn new(group: &str, resource: &str, namespace: &str, name: &str) -> Self {
        Self {
            group: group.into(),
            resource: resource.into(),
            namespace: namespace.into(),
            name: name.into(),
        }
    }
}

/// Watch event types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    /// Created.
    Added,
    /// Changed.
    Modified,
    /// Removed.
    Deleted,
}

impl EventType {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One change in the store.
#[derive(Clone, Debug)]
pub struct StoredEvent {
    /// The resourceVersion of the change.
    pub rv: u64,
    /// What happened.
    pub type_: EventType,
    /// Which object.
    pub key: ObjectKey,
    /// The object after the change (for deletions: its last state with the new RV).
    pub object: Arc<Value>,
    /// The object before the change, if any (for selector transitions).
    pub previous: Option<Arc<Value>>,
}

/// Events kept for watches that resume or fall behind; older starts get 410 Gone and relist,
/// as from a real API server's watch cache. Memory is bounded by this, not by the write rate.
const LOG_CAPACITY: usize = 10_000;

struct Inner {
    rv: u64,
    objects: BTreeMap<ObjectKey, Arc<Value>>,
    log: VecDeque<Arc<StoredEvent>>,
    floor: u64,
    journal: Option<File>,
}

/// The store.
pub struct Store {
    inner: Mutex<Inner>,
    /// The newest resourceVersion written.
    sender: watch::Sender<u64>,
}

/// Past events plus a receiver for later ones.
pub type Subscription = (Vec<Arc<StoredEvent>>, watch::Receiver<u64>);

/// A watch start that is older than the retained history.
#[derive(Debug)]
pub struct TooOld {
    /// The requested RV.
    pub requested: u64,
    /// The oldest RV still available.
    pub floor: u64,
}

impl Store {
    /// An empty in-memory store.
    pub fn new() -> Self {
        let (sender, _) = watch::channel(100);
        Self {
            inner: Mutex::new(Inner {
                rv: 100,
                objects: BTreeMap::new(),
                log: VecDeque::new(),
                floor: 100,
                journal: None,
            }),
            sender,
        }
    }

    /// A store persisted in `dir/journal.jsonl`: the journal is replayed, compacted into a
    /// snapshot, and appended to from then on.
    pub fn open(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join("journal.jsonl");
        let store = Self::new();
        {
            let mut inner = store.lock();
            if path.exists() {
                for line in BufReader::new(File::open(&path)?).lines() {
                    let line = line?;
                    let Ok(entry) = serde_json::from_str::<Value>(&line) else {
                        continue;
                    };
                    let rv = entry["rv"].as_u64().unwrap_or(0);
                    let key = key_from_json(&entry["key"]);
                    inner.rv = inner.rv.max(rv);
                    match entry["op"].as_str() {
                        Some("put") => {
                            inner.objects.insert(key, Arc::new(entry["object"].clone()));
                        }
                        Some("delete") => {
                            inner.objects.remove(&key);
                        }
                        _ => {}
                    }
                }
            }
            inner.floor = inner.rv;
            let tmp: PathBuf = dir.join("journal.jsonl.tmp");
            let mut snapshot = File::create(&tmp)?;
            for (key, object) in &inner.objects {
                let rv = object["metadata"]["resourceVersion"]
                    .as_str()
                    .and_then(|s| s.parse::<u64>().ok())
                    .unwrap_or(0);
                writeln!(
                    snapshot,
                    "{}",
                    json!({"rv": rv, "op": "put", "key": key_json(key), "object": &**object})
                )?;
            }
            snapshot.sync_all()?;
            std::fs::rename(&tmp, &path)?;
            inner.journal = Some(OpenOptions::new().append(true).open(&path)?);
        }
        Ok(store)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` with exclusive access; every write inside is atomic with respect to other
    /// writers and watch starts.
    pub fn write<R>(&self, f: impl FnOnce(&mut Tx<'_>) -> R) -> R {
        let mut inner = self.lock();
        let mut tx = Tx {
            inner: &mut inner,
            sender: &self.sender,
        };
        f(&mut tx)
    }

    /// The current resourceVersion.
    pub fn current_rv(&self) -> u64 {
        self.lock().rv
    }

    /// One object.
    pub fn get(&self, key: &ObjectKey) -> Option<Arc<Value>> {
        self.lock().objects.get(key).cloned()
    }

    /// Every object of a resource (optionally in one namespace), sorted by namespace and name,
    /// with the RV of the snapshot.
    pub fn list(
        &self,
        group: &str,
        resource: &str,
        namespace: Option<&str>,
    ) -> (Vec<Arc<Value>>, u64) {
        let inner = self.lock();
        (
            list_in(&inner.objects, group, resource, namespace),
            inner.rv,
        )
    }

    /// Every key in the store (for the namespace controller and garbage collector).
    pub fn keys(&self) -> Vec<ObjectKey> {
        self.lock().objects.keys().cloned().collect()
    }

    /// Events after `rv` plus a receiver for later ones; fails when `rv` is below the floor.
    pub fn watch_from(&self, rv: u64) -> Result<Subscription, TooOld> {
        let inner = self.lock();
        if rv < inner.floor {
            return Err(TooOld {
                requested: rv,
                floor: inner.floor,
            });
        }
        let past = inner.log.iter().filter(|e| e.rv > rv).cloned().collect();
        Ok((past, self.sender.subscribe()))
    }

    /// A receiver told the newest resourceVersion after each write.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.sender.subscribe()
    }

    /// The events after `rv`, oldest first; fails when some of them left the log.
    pub fn events_after(&self, rv: u64) -> Result<Vec<Arc<StoredEvent>>, TooOld> {
        let inner = self.lock();
        if rv < inner.floor {
            return Err(TooOld {
                requested: rv,
                floor: inner.floor,
            });
        }
        let start = inner.log.partition_point(|e| e.rv <= rv);
        Ok(inner.log.range(start..).cloned().collect())
    }

    /// A snapshot of current objects of a resource plus a receiver for later events.
    pub fn snapshot_and_subscribe(
        &self,
        group: &str,
        resource: &str,
        namespace: Option<&str>,
    ) -> (Vec<Arc<Value>>, u64, watch::Receiver<u64>) {
        let inner = self.lock();
        (
            list_in(&inner.objects, group, resource, namespace),
            inner.rv,
            self.sender.subscribe(),
        )
    }

    /// Forgets history up to the current RV (test hook: makes older watches get 410).
    pub fn compact(&self) {
        let mut inner = self.lock();
        inner.floor = inner.rv;
        inner.log.clear();
    }
}

impl Default for Store {
    fn default() -> Self {
        Self::new()
    }
}

fn list_in(
    objects: &BTreeMap<ObjectKey, Arc<Value>>,
    group: &str,
    resource: &str,
    namespace: Option<&str>,
) -> Vec<Arc<Value>> {
    let start = ObjectKey::new(group, resource, namespace.unwrap_or(""), "");
    objects
        .range(start..)
        .take_while(|(k, _)| {
            k.group == group
                && k.resource == resource
                && namespace.is_none_or(|ns| k.namespace == ns)
        })
        .map(|(_, v)| v.clone())
        .collect()
}

fn key_json(key: &ObjectKey) -> Value {
    json!([key.group, key.resource, key.namespace, key.name])
}

fn key_from_json(v: &Value) -> ObjectKey {
    let s = |i: usize| v[i].as_str().unwrap_or_default().to_string();
    ObjectKey {
        group: s(0),
        resource: s(1),
        namespace: s(2),
        name: s(3),
    }
}

/// Exclusive access to the store during one write.
pub struct Tx<'a> {
    inner: &'a mut Inner,
    sender: &'a watch::Sender<u64>,
}

impl Tx<'_> {
    /// One object.
    pub fn get(&self, key: &ObjectKey) -> Option<Arc<Value>> {
        self.inner.objects.get(key).cloned()
    }

    /// Objects of a resource.
    pub fn list(&self, group: &str, resource: &str, namespace: Option<&str>) -> Vec<Arc<Value>> {
        list_in(&self.inner.objects, group, resource, namespace)
    }

    /// Stores `object` under `key` with a new resourceVersion and emits ADDED or MODIFIED.
    pub fn put(&mut self, key: ObjectKey, mut object: Value) -> Arc<Value> {
        self.inner.rv += 1;
        let rv = self.inner.rv;
        object["metadata"]["resourceVersion"] = Value::String(rv.to_string());
        let object = Arc::new(object);
        let previous = self.inner.objects.insert(key.clone(), object.clone());
        let type_ = if previous.is_some() {
            EventType::Modified
        } else {
            EventType::Added
        };
        self.journal(|| json!({"rv": rv, "op": "put", "key": key_json(&key), "object": &*object}));
        self.emit(StoredEvent {
            rv,
            type_,
            key,
            object: object.clone(),
            previous,
        });
        object
    }

    /// Removes `key`, emitting DELETED with the last state under a new resourceVersion.
    pub fn delete(&mut self, key: &ObjectKey) -> Option<Arc<Value>> {
        let previous = self.inner.objects.remove(key)?;
        self.inner.rv += 1;
        let rv = self.inner.rv;
        let mut last = (*previous).clone();
        last["metadata"]["resourceVersion"] = Value::String(rv.to_string());
        let last = Arc::new(last);
        self.journal(|| json!({"rv": rv, "op": "delete", "key": key_json(key)}));
        self.emit(StoredEvent {
            rv,
            type_: EventType::Deleted,
            key: key.clone(),
            object: last.clone(),
            previous: Some(previous),
        });
        Some(last)
    }

    /// Appends `entry` to the journal; built only when there is one (it copies the object).
    fn journal(&mut self, entry: impl FnOnce() -> Value) {
        if let Some(journal) = self.inner.journal.as_mut()
            && let Err(e) = writeln!(journal, "{}", entry())
        {
            tracing::error!(error = %e, "cannot append to the sandbox journal");
        }
    }

    fn emit(&mut self, event: StoredEvent) {
        let rv = event.rv;
        let event = Arc::new(event);
        self.inner.log.push_back(event.clone());
        if self.inner.log.len() > LOG_CAPACITY
            && let Some(dropped) = self.inner.log.pop_front()
        {
            self.inner.floor = dropped.rv;
        }
        self.sender.send_replace(rv);
    }
}
