//! The person's choices, kept as JSON in the app's config directory.

use std::path::Path;

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// `system`, `en` or `zh-CN`.
    pub locale: String,
    /// `system`, `light` or `dark`.
    pub theme: String,
    pub start_at_login: bool,
    pub notifications: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            locale: "system".to_owned(),
            theme: "system".to_owned(),
            start_at_login: false,
            notifications: true,
        }
    }
}

impl Settings {
    /// The saved settings; defaults when there are none or they cannot be read (a
    /// broken file must not keep the app from starting).
    pub fn load(path: &Path) -> Settings {
        std::fs::read(path)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    }

    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let json = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        culvert_ipc::write_private(path, &json)
    }

    /// Refuses values the front end does not know.
    pub fn check(&self) -> Result<(), String> {
        if !["system", "en", "zh-CN"].contains(&self.locale.as_str()) {
            return Err(format!("unknown language {:?}", self.locale));
        }
        if !["system", "light", "dark"].contains(&self.theme.as_str()) {
            return Err(format!("unknown theme {:?}", self.theme));
        }
        Ok(())
    }

    /// Whether texts the app draws itself (tray, notifications) are in Chinese:
    /// the setting, or else the system's language.
    pub fn is_chinese(&self) -> bool {
        match self.locale.as_str() {
            "zh-CN" => true,
            "en" => false,
            _ => ["LC_ALL", "LC_MESSAGES", "LANG"]
                .iter()
                .filter_map(|v| std::env::var(v).ok())
                .find(|v| !v.is_empty())
                .is_some_and(|v| v.starts_with("zh")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_settings_come_back_and_junk_gives_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/settings.json");
        assert_eq!(Settings::load(&path), Settings::default());
        let chosen = Settings {
            locale: "zh-CN".to_owned(),
            theme: "dark".to_owned(),
            start_at_login: true,
            notifications: false,
        };
        chosen.save(&path).unwrap();
        assert_eq!(Settings::load(&path), chosen);
        assert!(chosen.is_chinese());
        std::fs::write(&path, b"{ not json").unwrap();
        assert_eq!(Settings::load(&path), Settings::default());
        // A file from an older version without some keys keeps the others.
        std::fs::write(&path, br#"{"theme":"light"}"#).unwrap();
        assert_eq!(Settings::load(&path).theme, "light");
        assert!(Settings::load(&path).notifications);
    }

    #[test]
    fn unknown_values_are_refused() {
        let mut s = Settings::default();
        assert!(s.check().is_ok());
        s.locale = "fr".to_owned();
        assert!(s.check().is_err());
        s.locale = "en".to_owned();
        s.theme = "blue".to_owned();
        assert!(s.check().is_err());
    }
}
