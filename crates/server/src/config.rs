//! Configuration loading: defaults, then a TOML file, then `CONFAB_*`
//! environment variables (`__` separates nesting levels, so
//! `CONFAB_DATABASE__URL` sets `database.url`). Unknown keys are errors.
//! Variables under `CONFAB_TEST_` belong to the test suites and are ignored.

use std::path::Path;

use anyhow::Context;
use confab_core::config::Config;
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;

/// The effective configuration.
pub fn load(file: Option<&Path>) -> anyhow::Result<Config> {
    let mut figment = Figment::from(Serialized::defaults(Config::default()));
    if let Some(file) = file {
        if !file.is_file() {
            anyhow::bail!("configuration file {} does not exist", file.display());
        }
        figment = figment.merge(Toml::file_exact(file));
    }
    figment = figment.merge(
        Env::prefixed("CONFAB_")
            .split("__")
            .filter(|key| !key.as_str().to_ascii_lowercase().starts_with("test_")),
    );
    figment.extract().context("invalid configuration")
}

#[cfg(test)]
// figment's Jail reports failures through its own large error type.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    #[test]
    fn file_then_environment_override_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "confab.toml",
                "data_dir = \"/srv/confab\"\n[server]\nlisten = \"0.0.0.0:9000\"\n[database]\nurl = \"sqlite://from-file.db\"\n",
            )?;
            jail.set_env("CONFAB_DATABASE__URL", "postgres://db/confab");
            jail.set_env("CONFAB_TEST_POSTGRES_URL", "postgres://ignored");
            jail.set_env("CONFAB_LIMITS__MESSAGES_PER_MINUTE", "600");
            let config = load(Some(Path::new("confab.toml"))).map_err(|e| format!("{e:#}"))?;
            assert_eq!(config.data_dir, Path::new("/srv/confab"));
            assert_eq!(config.server.listen.port(), 9000);
            assert_eq!(config.database.url.as_deref(), Some("postgres://db/confab"));
            assert_eq!(config.log.level, "info");
            assert_eq!(config.limits.messages_per_minute, 600);
            assert_eq!(config.limits.login_attempts_per_account, 10);
            Ok(())
        });
    }

    #[test]
    fn trusted_proxies_come_as_a_list_from_the_file_or_the_environment() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "confab.toml",
                "[server]\ntrusted_proxies = [\"10.0.0.0/8\"]\n",
            )?;
            let config = load(Some(Path::new("confab.toml"))).map_err(|e| format!("{e:#}"))?;
            assert_eq!(config.server.trusted_proxies, ["10.0.0.0/8"]);
            jail.set_env("CONFAB_SERVER__TRUSTED_PROXIES", "[10.0.0.0/8, 127.0.0.1]");
            let config = load(Some(Path::new("confab.toml"))).map_err(|e| format!("{e:#}"))?;
            assert_eq!(config.server.trusted_proxies, ["10.0.0.0/8", "127.0.0.1"]);
            Ok(())
        });
    }

    #[test]
    fn unknown_keys_are_refused() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("confab.toml", "[database]\nurll = \"x\"\n")?;
            let err = load(Some(Path::new("confab.toml"))).unwrap_err();
            assert!(format!("{err:#}").contains("urll"), "{err:#}");
            jail.create_file("ok.toml", "")?;
            jail.set_env("CONFAB_DATABSE__URL", "typo");
            let err = load(Some(Path::new("ok.toml"))).unwrap_err();
            assert!(format!("{err:#}").contains("databse"), "{err:#}");
            Ok(())
        });
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        figment::Jail::expect_with(|_| {
            let config = load(None).map_err(|e| e.to_string())?;
            assert_eq!(config.server.listen.to_string(), "127.0.0.1:8080");
            assert_eq!(config.data_dir, Path::new("./confab-data"));
            assert!(config.database_url().starts_with("sqlite://"));
            assert!(config.redis.url.is_none());
            Ok(())
        });
    }
}
