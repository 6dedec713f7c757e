//! The few texts the app draws itself, outside the web view: the tray menu and the
//! notifications. Everything else is translated in the front end.

use crate::watch::{Notice, TrayState};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Language {
    English,
    Chinese,
}

pub(crate) struct Texts(pub(crate) Language);

impl Texts {
    pub(crate) fn open(&self) -> &'static str {
        self.pick("Open Culvert", "打开 Culvert")
    }

    pub(crate) fn import(&self) -> &'static str {
        self.pick("Import tunnel…", "导入隧道…")
    }

    pub(crate) fn quit(&self) -> &'static str {
        self.pick("Quit", "退出")
    }

    pub(crate) fn no_tunnels(&self) -> &'static str {
        self.pick("No tunnels", "没有隧道")
    }

    pub(crate) fn service_unreachable(&self) -> &'static str {
        self.pick("Service not available", "服务不可用")
    }

    pub(crate) fn tooltip(&self, state: TrayState, active: usize) -> String {
        match (state, self.0) {
            (TrayState::Connected, Language::English) => format!("Culvert: {active} active"),
            (TrayState::Connected, Language::Chinese) => format!("Culvert：{active} 个已连接"),
            (TrayState::Disconnected, _) => {
                format!("Culvert: {}", self.pick("disconnected", "未连接"))
            }
            (TrayState::Error, _) => format!("Culvert: {}", self.pick("error", "错误")),
        }
    }

    /// A notification's title and body.
    pub(crate) fn notice(&self, notice: &Notice) -> (String, String) {
        match (notice, self.0) {
            (Notice::Connected { name }, Language::English) => (
                format!("{name} connected"),
                "The tunnel is up and talking to its peer.".to_owned(),
            ),
            (Notice::Connected { name }, Language::Chinese) => (
                format!("{name} 已连接"),
                "隧道已建立，正在与对端通信。".to_owned(),
            ),
            (Notice::Failed { name, message }, Language::English) => {
                (format!("{name} failed"), message.clone())
            }
            (Notice::Failed { name, message }, Language::Chinese) => {
                (format!("{name} 出错"), message.clone())
            }
            (Notice::Dropped { name }, Language::English) => (
                format!("{name} lost its connection"),
                "No handshake with the peer for 3 minutes; Culvert keeps trying.".to_owned(),
            ),
            (Notice::Dropped { name }, Language::Chinese) => (
                format!("{name} 连接中断"),
                "3 分钟内没有与对端握手；Culvert 会继续尝试。".to_owned(),
            ),
        }
    }

    fn pick(&self, english: &'static str, chinese: &'static str) -> &'static str {
        match self.0 {
            Language::English => english,
            Language::Chinese => chinese,
        }
    }
}
