-- Storage tiers are a property of the stored bytes, which several files of
-- a workspace may share: tiering and de-duplicated uploads find the files
-- of a storage key through this index. Same shape on both databases.
CREATE INDEX idx_files_storage_key ON files (storage_key);
