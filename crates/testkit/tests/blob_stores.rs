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

/// A local store keeps each tier in a directory of its own.
#[tokio::test]
async fn local_tiers_are_directories() {
    use confab_core::blobs::BlobStore;
    use confab_core::model::StorageClass;
    let dir = tempfile::tempdir().unwrap();
    let blobs = confab_files::ObjectBlobs::local(dir.path()).unwrap();
    confab_testkit::blob_suite::put(&blobs, "ws/x", b"cold bytes", 4).await;
    let places =
        || ["ws/x", ".infrequent/ws/x", ".archive/ws/x"].map(|p| dir.path().join(p).exists());
    assert_eq!(places(), [true, false, false]);
    blobs
        .set_class("ws/x", StorageClass::InfrequentAccess)
        .await
        .unwrap();
    assert_eq!(places(), [false, true, false]);
    blobs
        .set_class("ws/x", StorageClass::Archive)
        .await
        .unwrap();
    assert_eq!(places(), [false, false, true]);
    assert_eq!(
        std::fs::read(dir.path().join(".archive/ws/x")).unwrap(),
        b"cold bytes"
    );
    blobs.delete("ws/x").await.unwrap();
    assert_eq!(places(), [false, false, false]);
}

/// On S3 a tier is the object's storage class, and only classes read
/// without a restore may be the archive.
#[tokio::test]
#[cfg_attr(not(confab_s3), ignore = "set CONFAB_TEST_S3_URL to run the S3 suite")]
async fn s3_tiers_are_storage_classes() {
    use confab_core::blobs::BlobStore;
    use confab_core::model::StorageClass;
    let config = confab_testkit::harness::s3_files_config().await;
    let refused = confab_files::ObjectBlobs::s3(&confab_core::config::FilesConfig {
        archive_storage_class: "GLACIER".into(),
        ..config.clone()
    })
    .unwrap_err();
    assert!(refused.to_string().contains("restore"), "{refused}");
    let blobs = confab_files::ObjectBlobs::s3(&config).unwrap();
    confab_testkit::blob_suite::put(&blobs, "ws/x", b"cold bytes", 4).await;
    let url = format!(
        "{}/{}/{}/ws/x",
        config.url.as_deref().unwrap(),
        config.bucket.as_deref().unwrap(),
        config.prefix
    );
    let class_of = || async {
        let head = reqwest::Client::new().head(&url).send().await.unwrap();
        assert!(head.status().is_success(), "{}", head.status());
        head.headers()
            .get("x-amz-storage-class")
            .map_or("STANDARD".to_owned(), |v| v.to_str().unwrap().to_owned())
    };
    assert_eq!(class_of().await, "STANDARD");
    blobs
        .set_class("ws/x", StorageClass::InfrequentAccess)
        .await
        .unwrap();
    assert_eq!(class_of().await, "STANDARD_IA");
    blobs
        .set_class("ws/x", StorageClass::Archive)
        .await
        .unwrap();
    assert_eq!(class_of().await, "GLACIER_IR");
    assert_eq!(
        confab_testkit::blob_suite::get(&blobs, "ws/x", None).await,
        b"cold bytes"
    );
    confab_testkit::harness::remove_all_blobs(&blobs).await;
}
