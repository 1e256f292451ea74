//! The blob port's conformance suite on the local directory always, and on
//! S3-compatible storage when `CONFAB_TEST_S3_URL` is set.

mod local {
    confab_testkit::blob_conformance!(confab_testkit::harness::with_local_blobs);
}

mod s3 {
    confab_testkit::blob_conformance!(
        confab_testkit::harness::with_s3_blobs,
        #[cfg_attr(not(confab_s3), ignore = "set CONFAB_TEST_S3_URL to run the S3 suite")]
    );
}

/// A local store leaves no staging file behind an aborted blob.
#[tokio::test]
async fn local_aborts_leave_no_staging_files() {
    let dir = tempfile::tempdir().unwrap();
    let blobs = confab_files::ObjectBlobs::local(dir.path()).unwrap();
    let mut writer = confab_core::blobs::BlobStore::create(&blobs, "ws/x")
        .await
        .unwrap();
    writer
        .write(bytes::Bytes::from(vec![7; 1 << 20]))
        .await
        .unwrap();
    writer.abort().await.unwrap();
    let mut left = Vec::new();
    let mut dirs = vec![dir.path().to_path_buf()];
    while let Some(d) = dirs.pop() {
        for entry in std::fs::read_dir(d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                left.push(path);
            }
        }
    }
    assert_eq!(left, Vec::<std::path::PathBuf>::new());
}
