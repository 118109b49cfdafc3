//! Unpacking refuses a corpus of hostile tarballs, each with a typed error, and never writes
//! outside its target directory; unpacking into memory refuses the same corpus with the same
//! errors and keeps what the disk keeps.

// Test helpers may panic on broken fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::io::Write;
use std::path::Path;

use flate2::Compression;
use flate2::write::GzEncoder;
use rill_common::artifact::{UnpackError, UnpackLimits, unpack_tar_gz, unpack_tar_gz_to_memory};
use tar::{EntryType, Header};

/// One tar entry, with the raw name written byte for byte (so `..` and `/` survive).
struct Entry<'a> {
    name: &'a str,
    kind: EntryType,
    link: &'a str,
    data: Vec<u8>,
    declared_size: Option<u64>,
}

fn file(name: &str, data: &[u8]) -> Entry<'static> {
    Entry {
        name: leak(name),
        kind: EntryType::Regular,
        link: "",
        data: data.to_vec(),
        declared_size: None,
    }
}

fn link(name: &str, kind: EntryType, target: &str) -> Entry<'static> {
    Entry {
        name: leak(name),
        kind,
        link: leak(target),
        data: Vec::new(),
        declared_size: None,
    }
}

fn leak(s: &str) -> &'static str {
    Box::leak(s.to_string().into_boxed_str())
}

fn tar_gz(entries: &[Entry]) -> Vec<u8> {
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    for e in entries {
        let mut header = Header::new_gnu();
        {
            let raw = header.as_old_mut();
            raw.name = [0; 100];
            raw.name[..e.name.len()].copy_from_slice(e.name.as_bytes());
            raw.linkname = [0; 100];
            raw.linkname[..e.link.len()].copy_from_slice(e.link.as_bytes());
        }
        header.set_entry_type(e.kind);
        header.set_mode(0o644);
        header.set_size(e.declared_size.unwrap_or(e.data.len() as u64));
        header.set_cksum();
        gz.write_all(header.as_bytes()).unwrap();
        gz.write_all(&e.data).unwrap();
        let pad = (512 - e.data.len() % 512) % 512;
        gz.write_all(&vec![0; pad]).unwrap();
    }
    gz.write_all(&[0; 1024]).unwrap();
    gz.finish().unwrap()
}

/// Unpacks into `<tmp>/jail/out` and checks that nothing appeared in `<tmp>/jail` besides `out`.
fn unpack_in_jail(bytes: &[u8], limits: &UnpackLimits) -> Result<(), UnpackError> {
    let tmp = tempfile::tempdir().unwrap();
    let jail = tmp.path().join("jail");
    fs::create_dir_all(&jail).unwrap();
    let result = unpack_tar_gz(bytes, &jail.join("out"), limits).map(|_| ());
    let outside: Vec<_> = fs::read_dir(&jail)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "out")
        .collect();
    assert!(outside.is_empty(), "wrote outside the target: {outside:?}");
    assert!(!tmp.path().join("evil").exists(), "wrote next to the jail");
    result
}

fn small_limits() -> UnpackLimits {
    UnpackLimits {
        max_total_bytes: 4 << 20,
        max_entries: 50,
        max_file_bytes: 2 << 20,
        max_compression_ratio: 100,
        ratio_floor_bytes: 1 << 20,
    }
}

#[test]
fn hostile_tarballs_are_refused_with_typed_errors() {
    let zeros = vec![0u8; 3 << 20];
    type Case = (&'static str, Vec<Entry<'static>>, fn(&UnpackError) -> bool);
    let cases: Vec<Case> = vec![
        ("path traversal", vec![file("../evil", b"x")], |e| {
            matches!(e, UnpackError::PathTraversal { .. })
        }),
        (
            "deep traversal",
            vec![file("a/b/../../../evil", b"x")],
            |e| matches!(e, UnpackError::PathTraversal { .. }),
        ),
        (
            "absolute path",
            vec![file("/tmp/rill-evil-abs", b"x")],
            |e| matches!(e, UnpackError::AbsolutePath { .. }),
        ),
        (
            "symlink out of the root",
            vec![link("escape", EntryType::Symlink, "../../")],
            |e| matches!(e, UnpackError::SymlinkEscape { .. }),
        ),
        (
            "absolute symlink",
            vec![link("passwd", EntryType::Symlink, "/etc/passwd")],
            |e| matches!(e, UnpackError::SymlinkEscape { .. }),
        ),
        (
            "file written through a symlink",
            vec![link("s", EntryType::Symlink, "sub"), file("s/x", b"x")],
            |e| matches!(e, UnpackError::ThroughSymlink { .. }),
        ),
        (
            "symlink chain that only escapes physically",
            vec![
                link("s/q", EntryType::Symlink, "."),
                link("s/p", EntryType::Symlink, "q/../.."),
            ],
            |e| matches!(e, UnpackError::SymlinkEscape { .. }),
        ),
        (
            "hardlink out of the root",
            vec![link("h", EntryType::Link, "../../etc/passwd")],
            |e| matches!(e, UnpackError::HardlinkEscape { .. }),
        ),
        (
            "hardlink to an absolute path",
            vec![link("h", EntryType::Link, "/etc/passwd")],
            |e| matches!(e, UnpackError::HardlinkEscape { .. }),
        ),
        (
            "hardlink to something not unpacked",
            vec![link("h", EntryType::Link, "missing")],
            |e| matches!(e, UnpackError::HardlinkEscape { .. }),
        ),
        (
            "decompression bomb",
            vec![
                file("a", &zeros[..(3 << 20) / 2]),
                file("b", &zeros[..(3 << 20) / 2]),
            ],
            |e| matches!(e, UnpackError::CompressionRatio { .. }),
        ),
        (
            "oversized file",
            vec![Entry {
                declared_size: Some(3 << 20),
                ..file("big", b"x")
            }],
            |e| matches!(e, UnpackError::FileTooLarge { .. }),
        ),
        (
            "too many entries",
            (0..60).map(|i| file(&format!("f{i}"), b"x")).collect(),
            |e| matches!(e, UnpackError::TooManyEntries { .. }),
        ),
        ("device file", vec![link("dev", EntryType::Char, "")], |e| {
            matches!(e, UnpackError::UnsupportedEntry { .. })
        }),
        ("fifo", vec![link("fifo", EntryType::Fifo, "")], |e| {
            matches!(e, UnpackError::UnsupportedEntry { .. })
        }),
    ];
    for (name, entries, expected) in cases {
        let bytes = tar_gz(&entries);
        let err = unpack_in_jail(&bytes, &small_limits()).expect_err(name);
        assert!(expected(&err), "{name}: unexpected error {err:?}");
        assert!(!err.to_string().is_empty());
        let err = unpack_tar_gz_to_memory(&bytes[..], &small_limits()).expect_err(name);
        assert!(expected(&err), "{name} in memory: unexpected error {err:?}");
    }
    assert!(!Path::new("/tmp/rill-evil-abs").exists());
}

#[test]
fn total_size_is_bounded() {
    let chunk: Vec<u8> = (0..(1 << 20))
        .map(|i: u32| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let entries: Vec<Entry> = (0..5).map(|i| file(&format!("f{i}"), &chunk)).collect();
    let err = unpack_in_jail(&tar_gz(&entries), &small_limits()).unwrap_err();
    assert!(matches!(err, UnpackError::TotalTooLarge { .. }), "{err:?}");
    let err = unpack_tar_gz_to_memory(&tar_gz(&entries)[..], &small_limits()).unwrap_err();
    assert!(matches!(err, UnpackError::TotalTooLarge { .. }), "{err:?}");
}

#[test]
fn garbage_input_is_reported_as_corrupt() {
    let err = unpack_in_jail(b"this is not a tarball at all", &small_limits()).unwrap_err();
    assert!(matches!(err, UnpackError::Corrupt(_)), "{err:?}");
}

#[test]
fn links_that_stay_inside_are_unpacked() {
    let entries = vec![
        file("base/deployment.yaml", b"kind: Deployment\n"),
        link(
            "overlay/deployment.yaml",
            EntryType::Symlink,
            "../base/deployment.yaml",
        ),
        link("copy.yaml", EntryType::Link, "base/deployment.yaml"),
    ];
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let summary = unpack_tar_gz(&tar_gz(&entries)[..], &out, &small_limits()).unwrap();
    assert_eq!((summary.files, summary.symlinks), (2, 1));
    assert_eq!(
        fs::read_to_string(out.join("overlay/deployment.yaml")).unwrap(),
        "kind: Deployment\n"
    );
    assert_eq!(
        fs::read_to_string(out.join("copy.yaml")).unwrap(),
        "kind: Deployment\n"
    );
    let tree = unpack_tar_gz_to_memory(&tar_gz(&entries)[..], &small_limits()).unwrap();
    let paths = |m: Vec<&Path>| m.into_iter().map(Path::to_path_buf).collect::<Vec<_>>();
    assert_eq!(
        tree.files.keys().cloned().collect::<Vec<_>>(),
        paths(vec![
            Path::new("base/deployment.yaml"),
            Path::new("copy.yaml")
        ])
    );
    assert_eq!(
        tree.symlinks
            .get(Path::new("overlay/deployment.yaml"))
            .map(String::as_str),
        Some("../base/deployment.yaml")
    );
    assert!(tree.dirs.contains(Path::new("overlay")));
    assert_eq!(tree.bytes(), 34);
}

#[test]
fn a_non_empty_target_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join("existing"), b"x").unwrap();
    let err =
        unpack_tar_gz(&tar_gz(&[file("a", b"x")])[..], tmp.path(), &small_limits()).unwrap_err();
    assert!(matches!(err, UnpackError::TargetNotEmpty(_)), "{err:?}");
}
