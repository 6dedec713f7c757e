//! Culvert's desktop app: an unprivileged Tauri 2 shell around the `ui/` front end.
//! It talks to culvertd only through culvert-ipc, holds no key longer than a
//! request, and lives in the tray.
//!
//! - [`backend`]: the connection to culvertd and every request, without Tauri.
//! - [`import`]: imports with per-tunnel conflict questions; [`validate`]: the
//!   editor's live checks; [`settings`]: the person's choices.
//! - [`watch`]: the tray's state and the notifications, from the events.
//! - `app`: the Tauri glue (state, sink, tray); `commands`: what the window invokes.

mod app;
pub mod backend;
mod commands;
pub mod connection;
pub mod error;
pub mod import;
pub mod settings;
mod texts;
pub mod validate;
pub mod watch;

use std::path::PathBuf;

use tauri::{Manager as _, RunEvent, WindowEvent};

/// The argument autostart passes: start in the tray, without a window.
const HIDDEN_ARG: &str = "--hidden";

/// Where culvertd listens: `CULVERT_SOCKET` (tests, development) or the default.
fn service_address() -> PathBuf {
    std::env::var_os("CULVERT_SOCKET").map_or_else(
        || PathBuf::from(culvert_ipc::DEFAULT_ADDRESS),
        PathBuf::from,
    )
}

pub fn run() {
    let app = tauri::Builder::default()
        // First, so a second launch only brings the first one's window forward.
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
            app::show_main_window(app);
        }))
        .plugin(tauri_plugin_autostart::init(
            tauri_plugin_autostart::MacosLauncher::LaunchAgent,
            Some(vec![HIDDEN_ARG]),
        ))
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_clipboard_manager::init())
        .setup(|app| {
            app::start(app.handle(), service_address())?;
            if std::env::args().any(|a| a == HIDDEN_ARG)
                && let Some(window) = app.get_webview_window("main")
            {
                window.hide()?;
            }
            Ok(())
        })
        .on_window_event(|window, event| {
            // Closing the window keeps the app in the tray; Quit is in the tray menu.
            if let WindowEvent::CloseRequested { api, .. } = event {
                let _ = window.hide();
                api.prevent_close();
            }
        })
        .invoke_handler(tauri::generate_handler![
            commands::connection_status,
            commands::reconnect,
            commands::list_tunnels,
            commands::get_tunnel,
            commands::activate,
            commands::deactivate,
            commands::set_routing_mode,
            commands::set_kill_switch,
            commands::create_tunnel,
            commands::update_tunnel,
            commands::rename_tunnel,
            commands::delete_tunnel,
            commands::validate_config,
            commands::import_files,
            commands::import_qr_image,
            commands::import_qr_clipboard,
            commands::resolve_conflict,
            commands::tunnel_qr_svg,
            commands::reveal_private_key,
            commands::export_tunnel_file,
            commands::export_all_zip,
            commands::read_log,
            commands::service_status,
            commands::get_settings,
            commands::set_settings,
        ])
        .build(tauri::generate_context!())
        .unwrap_or_else(|e| {
            eprintln!("culvert-app: could not start: {e}");
            std::process::exit(1);
        });
    app.run(|_app, event| {
        // Hidden windows do not end the app; only Quit (an explicit exit code) does.
        if let RunEvent::ExitRequested {
            code: None, api, ..
        } = event
        {
            api.prevent_exit();
        }
    });
}
