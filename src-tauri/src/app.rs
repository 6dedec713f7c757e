//! The Tauri side: state shared by the commands, the sink that turns the service's
//! events into window events, tray updates and notifications, and the tray itself.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use culvert_ipc::Event;
use tauri::image::Image;
use tauri::menu::{CheckMenuItem, Menu, MenuEvent, MenuItem, PredefinedMenuItem};
use tauri::tray::{TrayIcon, TrayIconBuilder};
use tauri::{AppHandle, Emitter as _, Manager as _, WebviewUrl, WebviewWindowBuilder, Wry};

use crate::backend::{Backend, Sink, lock};
use crate::connection::ConnectionStatus;
use crate::error::CommandError;
use crate::settings::Settings;
use crate::texts::{Language, Texts};
use crate::watch::{TrayState, Watcher};

pub(crate) const CONNECTION_EVENT: &str = "culvert://connection";
pub(crate) const SERVICE_EVENT: &str = "culvert://service";
pub(crate) const OPEN_IMPORT_EVENT: &str = "culvert://open-import";
pub(crate) const SELECT_TUNNEL_EVENT: &str = "culvert://select-tunnel";

const TRAY_ID: &str = "culvert";
const TUNNEL_ITEM_PREFIX: &str = "tunnel:";
pub(crate) const MAIN_WINDOW: &str = "main";

/// Set by Quit, so that the window's end is not taken for a close to the tray.
static QUITTING: AtomicBool = AtomicBool::new(false);

// Only Linux starts the app over in the tray when its window goes (lib.rs).
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub(crate) fn quitting() -> bool {
    QUITTING.load(Ordering::SeqCst)
}

pub(crate) struct AppState {
    pub(crate) backend: Arc<Backend>,
    settings: Mutex<Settings>,
    settings_path: PathBuf,
    watcher: Mutex<Watcher>,
}

impl AppState {
    pub(crate) fn settings(&self) -> Settings {
        lock(&self.settings).clone()
    }

    fn texts(&self) -> Texts {
        let language = if self.settings().is_chinese() {
            Language::Chinese
        } else {
            Language::English
        };
        Texts(language)
    }
}

/// Makes the state, the tray and the event pump. Called once from `setup`.
pub(crate) fn start(app: &AppHandle, address: PathBuf) -> tauri::Result<()> {
    let settings_path = app.path().app_config_dir()?.join("settings.json");
    let sink = Arc::new(AppSink { app: app.clone() });
    let backend = Backend::new(address, sink);
    app.manage(AppState {
        backend: Arc::clone(&backend),
        settings: Mutex::new(Settings::load(&settings_path)),
        settings_path,
        watcher: Mutex::new(Watcher::default()),
    });
    create_tray(app)?;
    backend.start_pump();
    Ok(())
}

/// Saves new settings and applies what the Rust side owns (start at login, the
/// tray's language).
pub(crate) fn apply_settings(
    app: &AppHandle,
    state: &AppState,
    settings: Settings,
) -> Result<Settings, CommandError> {
    use tauri_plugin_autostart::ManagerExt as _;
    let autostart = app.autolaunch();
    if autostart.is_enabled().unwrap_or(false) != settings.start_at_login {
        let result = if settings.start_at_login {
            autostart.enable()
        } else {
            autostart.disable()
        };
        result.map_err(|e| CommandError::new("io", format!("start at login: {e}")))?;
    }
    settings
        .save(&state.settings_path)
        .map_err(|e| CommandError::io(&e))?;
    *lock(&state.settings) = settings.clone();
    refresh_tray(app);
    Ok(settings)
}

struct AppSink {
    app: AppHandle,
}

impl Sink for AppSink {
    fn connection_changed(&self, status: &ConnectionStatus) {
        let _ = self.app.emit(CONNECTION_EVENT, status);
        if status.is_connected() {
            reload_tunnels(&self.app);
        } else if let Some(state) = self.app.try_state::<AppState>() {
            *lock(&state.watcher) = Watcher::default();
        }
        refresh_tray(&self.app);
    }

    fn service_event(&self, event: &Event) {
        let _ = self.app.emit(SERVICE_EVENT, event);
        let Some(state) = self.app.try_state::<AppState>() else {
            return;
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let notices = lock(&state.watcher).on_event(event, now);
        if state.settings().notifications {
            use tauri_plugin_notification::NotificationExt as _;
            let texts = state.texts();
            for notice in &notices {
                let (title, body) = texts.notice(notice);
                let _ = self
                    .app
                    .notification()
                    .builder()
                    .title(title)
                    .body(body)
                    .show();
            }
        }
        match event {
            Event::TunnelsChanged => reload_tunnels(&self.app),
            Event::TunnelState { .. } => refresh_tray(&self.app),
            Event::Stats { .. } | Event::Log(_) => {}
        }
    }
}

/// Asks the service for the list again (after a change the event does not detail).
fn reload_tunnels(app: &AppHandle) {
    let Some(state) = app.try_state::<AppState>() else {
        return;
    };
    if let Ok(list) = state.backend.list_tunnels() {
        lock(&state.watcher).set_tunnels(&list);
    }
    refresh_tray(app);
}

fn tray_image(state: TrayState) -> Option<Image<'static>> {
    let bytes: &'static [u8] = match state {
        TrayState::Connected => include_bytes!("../../icons/tray/connected@2x.png"),
        TrayState::Disconnected => include_bytes!("../../icons/tray/disconnected@2x.png"),
        TrayState::Error => include_bytes!("../../icons/tray/error@2x.png"),
    };
    Image::from_bytes(bytes).ok()
}

fn create_tray(app: &AppHandle) -> tauri::Result<TrayIcon> {
    let mut builder = TrayIconBuilder::with_id(TRAY_ID)
        .tooltip("Culvert")
        .menu(&tray_menu(app)?)
        .show_menu_on_left_click(true)
        .on_menu_event(on_menu_event);
    if let Some(icon) = tray_image(TrayState::Disconnected) {
        builder = builder.icon(icon);
    }
    builder.build(app)
}

/// Rebuilds the tray's menu, icon and tooltip from what is known now.
pub(crate) fn refresh_tray(app: &AppHandle) {
    let (Some(tray), Some(state)) = (app.tray_by_id(TRAY_ID), app.try_state::<AppState>()) else {
        return;
    };
    let (tray_state, active) = {
        let watcher = lock(&state.watcher);
        (watcher.tray_state(), watcher.active_count())
    };
    if let Ok(menu) = tray_menu(app) {
        let _ = tray.set_menu(Some(menu));
    }
    let _ = tray.set_icon(tray_image(tray_state));
    let _ = tray.set_tooltip(Some(state.texts().tooltip(tray_state, active)));
}

/// On Linux the tray sends menu events only, so every action is in the menu.
fn tray_menu(app: &AppHandle) -> tauri::Result<Menu<Wry>> {
    let menu = Menu::new(app)?;
    let (texts, toggles, connected) = match app.try_state::<AppState>() {
        Some(state) => (
            state.texts(),
            lock(&state.watcher).toggles(),
            state.backend.status().is_connected(),
        ),
        None => (Texts(Language::English), Vec::new(), false),
    };
    if !connected {
        menu.append(&MenuItem::new(
            app,
            texts.service_unreachable(),
            false,
            None::<&str>,
        )?)?;
    } else if toggles.is_empty() {
        menu.append(&MenuItem::new(
            app,
            texts.no_tunnels(),
            false,
            None::<&str>,
        )?)?;
    }
    for (name, on) in toggles {
        let id = format!("{TUNNEL_ITEM_PREFIX}{name}");
        menu.append(&CheckMenuItem::with_id(
            app,
            id,
            &name,
            true,
            on,
            None::<&str>,
        )?)?;
    }
    menu.append(&PredefinedMenuItem::separator(app)?)?;
    menu.append(&MenuItem::with_id(
        app,
        "open",
        texts.open(),
        true,
        None::<&str>,
    )?)?;
    menu.append(&MenuItem::with_id(
        app,
        "import",
        texts.import(),
        connected,
        None::<&str>,
    )?)?;
    menu.append(&PredefinedMenuItem::separator(app)?)?;
    menu.append(&MenuItem::with_id(
        app,
        "quit",
        texts.quit(),
        true,
        None::<&str>,
    )?)?;
    Ok(menu)
}

/// Brings the main window forward, creating it if it does not exist: closing it to the
/// tray destroys it, so that WebKit's web process, most of the app's memory, does not
/// stay behind while the app sits in the tray.
pub(crate) fn show_main_window(app: &AppHandle) {
    let _ = open_main_window(app, "index.html");
}

/// [`show_main_window`]; a new window loads `page`. Whether the window existed.
fn open_main_window(app: &AppHandle, page: &str) -> tauri::Result<bool> {
    if let Some(window) = app.get_webview_window(MAIN_WINDOW) {
        window.unminimize()?;
        window.show()?;
        window.set_focus()?;
        return Ok(true);
    }
    let Some(config) = app
        .config()
        .app
        .windows
        .iter()
        .find(|w| w.label == MAIN_WINDOW)
    else {
        return Ok(false);
    };
    let mut config = config.clone();
    config.url = WebviewUrl::App(page.into());
    WebviewWindowBuilder::from_config(app, &config)?.build()?;
    Ok(false)
}

fn on_menu_event(app: &AppHandle, event: MenuEvent) {
    let id = event.id().as_ref().to_owned();
    match id.as_str() {
        "open" => show_main_window(app),
        // A new window is told by its address (it cannot hear an event before it loads).
        "import" => {
            if let Ok(true) = open_main_window(app, "index.html?open=import") {
                let _ = app.emit(OPEN_IMPORT_EVENT, ());
            }
        }
        "quit" => {
            QUITTING.store(true, Ordering::SeqCst);
            app.exit(0);
        }
        _ => {
            if let Some(name) = id.strip_prefix(TUNNEL_ITEM_PREFIX) {
                toggle_from_tray(app, name.to_owned());
            }
        }
    }
}

/// Activates or deactivates a tunnel from its tray item, off the UI thread; a
/// failure is told in a notification (the window may be hidden).
fn toggle_from_tray(app: &AppHandle, name: String) {
    let app = app.clone();
    std::thread::spawn(move || {
        let Some(state) = app.try_state::<AppState>() else {
            return;
        };
        let Ok(tunnel) = culvert_config::TunnelName::new(&name) else {
            return;
        };
        let _ = app.emit(SELECT_TUNNEL_EVENT, &name);
        let on = lock(&state.watcher)
            .toggles()
            .into_iter()
            .any(|(n, on)| n == name && on);
        let result = if on {
            state.backend.deactivate(tunnel)
        } else {
            state.backend.activate(tunnel)
        };
        if let Err(e) = result {
            use tauri_plugin_notification::NotificationExt as _;
            let _ = app
                .notification()
                .builder()
                .title(format!("Culvert: {name}"))
                .body(e.message)
                .show();
        }
        // The check mark follows the service's state, not the click.
        refresh_tray(&app);
    });
}
