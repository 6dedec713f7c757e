//! Culvert's desktop app: an unprivileged Tauri 2 shell around the `ui/` front end.
//! It talks to culvertd only through culvert-ipc, holds no key longer than a
//! request, and lives in the tray.
//!
//! - [`backend`]: the connection to culvertd and every request, without Tauri.
//! - [`import`]: imports with per-tunnel conflict questions; [`validate`]: the
//!   editor's live checks; [`settings`]: the person's choices.
//! - [`watch`]: the tray's state and the notifications, from the events.
//! - `app`: the Tauri glue (state, sink, tray, the window made on demand); `commands`:
//!   what the window invokes; `lean` (Linux): giving WebKit's memory back when the
//!   window closes to the tray.

mod app;
pub mod backend;
mod commands;
pub mod connection;
pub mod error;
pub mod import;
#[cfg(target_os = "linux")]
mod lean;
pub mod settings;
mod texts;
pub mod validate;
pub mod watch;

use std::path::PathBuf;

use tauri::RunEvent;

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
    #[cfg(target_os = "linux")]
    lean::skip_gtk_gl_probe();
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
            // Started at login: only the tray, no window.
            if !std::env::args().any(|a| a == HIDDEN_ARG) {
                app::show_main_window(app.handle());
            }
            Ok(())
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
    app.run(|_app, event| match event {
        // Closing the window keeps the app in the tray; only Quit (an explicit exit
        // code) ends it.
        RunEvent::ExitRequested {
            code: None, api, ..
        } => api.prevent_exit(),
        #[cfg(target_os = "linux")]
        RunEvent::WindowEvent {
            label,
            event: tauri::WindowEvent::Destroyed,
            ..
        } if label == app::MAIN_WINDOW && !app::quitting() => {
            let error = lean::start_over_in_tray(HIDDEN_ARG);
            eprintln!("culvert-app: could not start over in the tray: {error}");
        }
        _ => {}
    });
}
