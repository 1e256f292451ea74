//! The blob port's conformance suite, run against the local directory and
//! against S3-compatible storage (`CONFAB_TEST_S3_URL`).

use std::sync::Arc;

use bytes::Bytes;
use confab_core::blobs::BlobStore;
use confab_core::model::StorageClass;
use confab_core::Error;
use futures::TryStreamExt;

/// One test per case of the blob suite, through `$harness`.
#[macro_export]
macro_rules! blob_conformance {
    ($harness:path $(, #[$attr:meta])*) => {
        $crate::__conformance_cases!(blob_suite, 2, $harness, [$(#[$attr])*],
            blobs_read_back_whole_and_by_range,
            aborted_blobs_leave_nothing,
            missing_blobs_are_not_found_and_deleting_twice_succeeds,
            keys_are_listed_by_prefix,
            moving_between_tiers_keeps_blobs_whole,
        );
    };
}

/// Bytes that differ at every offset, so a misplaced part shows.
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

/// Write `data` under `key` in chunks of `chunk` bytes.
pub async fn put(blobs: &dyn BlobStore, key: &str, data: &[u8], chunk: usize) {
    let mut writer = blobs.create(key).await.unwrap();
    for piece in data.chunks(chunk) {
        writer.write(Bytes::copy_from_slice(piece)).await.unwrap();
    }
    writer.finish().await.unwrap();
}

/// The bytes of `key` in `range` (all when `None`).
pub async fn get(blobs: &dyn BlobStore, key: &str, range: Option<std::ops::Range<u64>>) -> Vec<u8> {
    let chunks: Vec<Bytes> = blobs
        .read(key, range)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    chunks.concat()
}

pub async fn blobs_read_back_whole_and_by_range(blobs: Arc<dyn BlobStore>) {
    // More than two 5 MiB parts, written in chunks that do not divide them.
    let data = pattern(12 * 1024 * 1024 + 3);
    put(&*blobs, "ws/a/one", &data, 65_537).await;
    assert_eq!(
        blobs.size("ws/a/one").await.unwrap(),
        Some(data.len() as u64)
    );
    assert!(
        get(&*blobs, "ws/a/one", None).await == data,
        "whole blob differs"
    );
    let across = 5 * 1024 * 1024 - 10..5 * 1024 * 1024 + 10;
    assert_eq!(
        get(&*blobs, "ws/a/one", Some(across.clone())).await,
        data[across.start as usize..across.end as usize]
    );
    let last = data.len() as u64 - 1;
    assert_eq!(
        get(&*blobs, "ws/a/one", Some(last..last + 1)).await,
        vec![data[last as usize]]
    );

    put(&*blobs, "ws/a/small", b"hello", 2).await;
    assert_eq!(get(&*blobs, "ws/a/small", None).await, b"hello");
}

pub async fn aborted_blobs_leave_nothing(blobs: Arc<dyn BlobStore>) {
    let mut writer = blobs.create("ws/b/aborted").await.unwrap();
    for piece in pattern(6 * 1024 * 1024).chunks(1 << 20) {
        writer.write(Bytes::copy_from_slice(piece)).await.unwrap();
    }
    writer.abort().await.unwrap();
    assert_eq!(blobs.size("ws/b/aborted").await.unwrap(), None);

    let mut unfinished = blobs.create("ws/b/unfinished").await.unwrap();
    unfinished.write(Bytes::from_static(b"half")).await.unwrap();
    assert_eq!(
        blobs.size("ws/b/unfinished").await.unwrap(),
        None,
        "a blob is invisible until finished"
    );
    unfinished.abort().await.unwrap();
    assert_eq!(blobs.list("ws/b/").await.unwrap(), Vec::<String>::new());
}

pub async fn missing_blobs_are_not_found_and_deleting_twice_succeeds(blobs: Arc<dyn BlobStore>) {
    match blobs.read("ws/c/none", None).await {
        Err(Error::NotFound("blob")) => {}
        Err(other) => panic!("expected not found, got {other}"),
        Ok(_) => panic!("expected not found, got a stream"),
    }
    assert_eq!(blobs.size("ws/c/none").await.unwrap(), None);
    blobs.delete("ws/c/none").await.unwrap();

    put(&*blobs, "ws/c/doomed", b"bytes", 5).await;
    blobs.delete("ws/c/doomed").await.unwrap();
    blobs.delete("ws/c/doomed").await.unwrap();
    assert_eq!(blobs.size("ws/c/doomed").await.unwrap(), None);
}

pub async fn keys_are_listed_by_prefix(blobs: Arc<dyn BlobStore>) {
    for key in ["ws/d/2", "ws/d/1", "ws/e/1"] {
        put(&*blobs, key, key.as_bytes(), 16).await;
    }
    assert_eq!(blobs.list("ws/d/").await.unwrap(), ["ws/d/1", "ws/d/2"]);
    assert_eq!(
        blobs.list("ws/").await.unwrap(),
        ["ws/d/1", "ws/d/2", "ws/e/1"]
    );
}

pub async fn moving_between_tiers_keeps_blobs_whole(blobs: Arc<dyn BlobStore>) {
    // More than one 5 MiB part: the move streams it part by part.
    let data = pattern(6 * 1024 * 1024 + 5);
    put(&*blobs, "ws/t/one", &data, 100_003).await;
    put(&*blobs, "ws/t/two", b"second", 6).await;
    use StorageClass::*;
    for class in [InfrequentAccess, Archive, Archive, Standard, Archive] {
        blobs.set_class("ws/t/one", class).await.unwrap();
        assert_eq!(get(&*blobs, "ws/t/one", None).await, data, "in {class}");
        assert_eq!(
            get(&*blobs, "ws/t/one", Some(5..1_005)).await,
            &data[5..1_005]
        );
        assert_eq!(
            blobs.size("ws/t/one").await.unwrap(),
            Some(data.len() as u64)
        );
        assert_eq!(blobs.list("ws/t").await.unwrap(), ["ws/t/one", "ws/t/two"]);
    }
    blobs.delete("ws/t/one").await.unwrap();
    assert_eq!(blobs.size("ws/t/one").await.unwrap(), None);
    assert!(matches!(
        blobs.read("ws/t/one", None).await,
        Err(Error::NotFound(_))
    ));
    assert_eq!(blobs.list("ws/t").await.unwrap(), ["ws/t/two"]);
    assert!(matches!(
        blobs.set_class("ws/t/missing", Archive).await,
        Err(Error::NotFound(_))
    ));
    assert_eq!(get(&*blobs, "ws/t/two", None).await, b"second");
}
