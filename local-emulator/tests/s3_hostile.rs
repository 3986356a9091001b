//! The S3 endpoint under attack and after crashes: bodies that are too large, too slow or
//! malformed, names that try to leave the data directory, racing writers, damaged files at
//! start, unsigned or chunk-signed requests under `--credentials`, other sites' pages.

use lockgate_test_support as common;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::raw_request;
use lockgate_emulator::{EmulatorConfig, RunningEmulator};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn start(dir: &Path, configure: impl FnOnce(&mut EmulatorConfig)) -> RunningEmulator {
    let mut config = EmulatorConfig::ephemeral();
    config.data_dir = Some(dir.to_path_buf());
    configure(&mut config);
    RunningEmulator::start(config)
        .await
        .expect("emulator starts")
}

/// Files under `dir/s3/<bucket>/data` (the sealed pieces).
fn pieces(dir: &Path, bucket: &str) -> Vec<String> {
    std::fs::read_dir(dir.join("s3").join(bucket).join("data"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Sends `head` (a request's start and headers) and then `body`, and reads the reply, which
/// may come before the body is complete.
async fn exchange(addr: std::net::SocketAddr, head: &str, body: &[u8]) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    let _ = stream.write_all(body).await;
    let mut reply = Vec::new();
    let _ = stream.read_to_end(&mut reply).await;
    String::from_utf8_lossy(&reply).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_slow_and_malformed_bodies_are_refused_and_leave_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let emulator = start(dir.path(), |c| {
        c.limits.body_read_timeout = Duration::from_secs(1);
    })
    .await;
    let addr = emulator.addr;
    let (status, _, _) = raw_request(addr, "PUT", "/box", &[], b"").await;
    assert_eq!(status, 200);

    // A declared 6 GiB: refused before any of it is read.
    let reply = exchange(
        addr,
        "PUT /box/huge HTTP/1.1\r\nHost: localhost\r\nContent-Length: 6442450944\r\nConnection: close\r\n\r\n",
        b"",
    )
    .await;
    assert!(reply.starts_with("HTTP/1.1 400"), "{reply}");
    assert!(reply.contains("<Code>EntityTooLarge</Code>"), "{reply}");

    // A body that stops arriving: the idle timeout ends it.
    let reply = exchange(
        addr,
        "PUT /box/slow HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n",
        b"only a little",
    )
    .await;
    assert!(reply.contains("<Code>RequestTimeout</Code>"), "{reply}");

    // aws-chunked that lies about its chunk size.
    let chunked = [
        ("Content-Encoding", "aws-chunked"),
        ("x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"),
    ];
    let (status, _, body) = raw_request(
        addr,
        "PUT",
        "/box/lies",
        &chunked,
        b"3\r\nhello\r\n0\r\n\r\n",
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("malformed"), "{body}");
    // A signed SHA-256 that is not the body's.
    let (status, _, body) = raw_request(
        addr,
        "PUT",
        "/box/sha",
        &[(
            "x-amz-content-sha256",
            "0000000000000000000000000000000000000000000000000000000000000000",
        )],
        b"body",
    )
    .await;
    assert_eq!(status, 400);
    assert!(body.contains("XAmzContentSHA256Mismatch"), "{body}");

    // None of it was kept: no object, no piece file.
    let (_, _, listing) = raw_request(addr, "GET", "/box?list-type=2", &[], b"").await;
    assert!(!listing.contains("<Contents>"), "{listing}");
    common::eventually("refused uploads' files removed", || async {
        pieces(dir.path(), "box").is_empty().then_some(())
    })
    .await;
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_cannot_leave_the_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let emulator = start(dir.path(), |_| {}).await;
    let addr = emulator.addr;
    for bucket in ["..", "%2e%2e", "a..b", "UPPER", "x", "-leading"] {
        let (status, _, body) = raw_request(addr, "PUT", &format!("/{bucket}"), &[], b"").await;
        assert_eq!(status, 400, "{bucket}: {body}");
        assert!(body.contains("InvalidBucketName"), "{body}");
    }
    raw_request(addr, "PUT", "/safe", &[], b"").await;
    // Keys that climb 1 to 12 directories (encoded and plain): each is an object of the
    // bucket, and no file of that name appears anywhere — not in the data directory, not in
    // any directory above it (where a key used as a path would have landed at some depth).
    let name = format!("escaped-{}", std::process::id());
    for depth in 1..=12 {
        for climb in ["..%2F", "../"] {
            let key = format!("/safe/{}{name}", climb.repeat(depth));
            let (status, _, body) = raw_request(addr, "PUT", &key, &[], b"inside").await;
            assert_eq!(status, 200, "{key}: {body}");
            let (status, _, body) = raw_request(addr, "GET", &key, &[], b"").await;
            assert_eq!((status, body.as_str()), (200, "inside"), "{key}");
        }
    }
    for ancestor in dir.path().ancestors() {
        assert!(!ancestor.join(&name).exists(), "{}", ancestor.display());
    }
    let mut pending = vec![dir.path().to_path_buf()];
    while let Some(path) = pending.pop() {
        for entry in std::fs::read_dir(&path).unwrap() {
            let entry = entry.unwrap().path();
            assert!(
                !entry.to_string_lossy().contains(&name),
                "a key became a path: {}",
                entry.display()
            );
            if entry.is_dir() {
                pending.push(entry);
            }
        }
    }
    // Upload ids name files: only ours (hex) are accepted.
    for id in [
        "..%2F..%2Fkeyring",
        "zz",
        "0123456789abcdef0123456789abcdeg",
    ] {
        let (status, _, body) = raw_request(
            addr,
            "PUT",
            &format!("/safe/k?partNumber=1&uploadId={id}"),
            &[],
            b"x",
        )
        .await;
        assert_eq!(status, 404, "{body}");
        assert!(body.contains("NoSuchUpload"), "{body}");
    }
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_writers_leave_one_whole_object_and_no_stray_files() {
    let dir = tempfile::tempdir().unwrap();
    let emulator = start(dir.path(), |_| {}).await;
    let addr = emulator.addr;
    raw_request(addr, "PUT", "/race", &[], b"").await;
    let writers: Vec<_> = (0..12u8)
        .map(|i| {
            tokio::spawn(async move {
                let body = vec![b'a' + i; 200_000];
                raw_request(addr, "PUT", "/race/same", &[], &body).await.0
            })
        })
        .collect();
    for writer in writers {
        assert_eq!(writer.await.unwrap(), 200);
    }
    let (status, _, body) = raw_request(addr, "GET", "/race/same", &[], b"").await;
    assert_eq!(status, 200);
    assert_eq!(body.len(), 200_000);
    let first = body.as_bytes()[0];
    assert!(
        body.bytes().all(|b| b == first),
        "one writer's bytes, whole"
    );
    assert_eq!(
        pieces(dir.path(), "race").len(),
        1,
        "replaced pieces are deleted"
    );
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_mid_upload_leaves_no_trace_and_damage_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let emulator = start(dir.path(), |_| {}).await;
    raw_request(emulator.addr, "PUT", "/kept", &[], b"").await;
    raw_request(emulator.addr, "PUT", "/kept/a", &[], b"object a").await;
    emulator.shutdown().await;
    // What a crash leaves: a piece no object names, a half-written replacement.
    let data = dir.path().join("s3/kept/data");
    std::fs::write(data.join("0123456789abcdef0123456789abcdef"), b"orphan").unwrap();
    std::fs::write(dir.path().join("s3/kept/objects/x.tmp"), b"{half").unwrap();
    let emulator = start(dir.path(), |_| {}).await;
    assert_eq!(pieces(dir.path(), "kept").len(), 1, "the orphan is gone");
    assert!(!dir.path().join("s3/kept/objects/x.tmp").exists());
    let (status, _, body) = raw_request(emulator.addr, "GET", "/kept/a", &[], b"").await;
    assert_eq!((status, body.as_str()), (200, "object a"));
    emulator.shutdown().await;

    // A damaged object file: the start fails naming it, rather than losing the object.
    let objects = dir.path().join("s3/kept/objects");
    let file = std::fs::read_dir(&objects)
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path();
    std::fs::write(&file, b"{\"key\":").unwrap();
    let mut config = EmulatorConfig::ephemeral();
    config.data_dir = Some(dir.path().to_path_buf());
    let err = RunningEmulator::start(config)
        .await
        .err()
        .expect("no start")
        .to_string();
    assert!(
        err.contains(&file.display().to_string()) && err.contains("damaged"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_credentials_only_signed_requests_and_no_pages_from_other_sites() {
    let dir = tempfile::tempdir().unwrap();
    let emulator = start(dir.path(), |c| {
        let table = HashMap::from([("AKIDS3".to_string(), "secret".to_string())]);
        c.sqs.credentials = Some(Arc::new(table));
    })
    .await;
    let addr = emulator.addr;
    let (status, _, body) = raw_request(addr, "PUT", "/nobody", &[], b"").await;
    assert_eq!(status, 403, "{body}");
    let (status, _, body) = raw_request(
        addr,
        "PUT",
        "/nobody/k",
        &[("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")],
        b"",
    )
    .await;
    assert_eq!(status, 501, "{body}");
    assert!(body.contains("NotImplemented"), "{body}");
    emulator.shutdown().await;

    // A page on another site cannot write objects (the browser rules hold for S3 too).
    let emulator = start(dir.path(), |_| {}).await;
    let (status, _, body) = raw_request(
        emulator.addr,
        "PUT",
        "/page",
        &[("Origin", "https://evil.example")],
        b"",
    )
    .await;
    assert_eq!(status, 403, "{body}");
    emulator.shutdown().await;
}
