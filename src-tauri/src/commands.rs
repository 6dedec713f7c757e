//! The commands the window invokes: each parses its arguments, runs the backend's
//! blocking call off the main thread, and returns JSON or a [`CommandError`].
//! (Names and shapes: docs/gui-commands.md.)

use std::path::PathBuf;
use std::sync::Arc;

use culvert_config::TunnelName;
use culvert_ipc::{LogLine, RoutingMode, ServiceStatus, TunnelDetail, TunnelSummary};
use tauri::{AppHandle, State};

use crate::app::AppState;
use crate::backend::Backend;
use crate::connection::ConnectionStatus;
use crate::error::CommandError;
use crate::import::{ConflictAction, ImportReport, QrImage};
use crate::settings::Settings;
use crate::validate::Validation;

type Result<T> = std::result::Result<T, CommandError>;

/// Runs `work` on a blocking thread: IPC calls wait for the service.
async fn blocking<T: Send + 'static>(
    state: State<'_, AppState>,
    work: impl FnOnce(&Backend) -> Result<T> + Send + 'static,
) -> Result<T> {
    let backend: Arc<Backend> = Arc::clone(&state.backend);
    tauri::async_runtime::spawn_blocking(move || work(&backend))
        .await
        .map_err(|e| CommandError::new("internal", e.to_string()))?
}

fn tunnel_name(name: &str) -> Result<TunnelName> {
    TunnelName::new(name).map_err(|e| CommandError::new("invalid_request", e.to_string()))
}

#[tauri::command]
pub(crate) async fn connection_status(state: State<'_, AppState>) -> Result<ConnectionStatus> {
    Ok(state.backend.status())
}

#[tauri::command]
pub(crate) async fn reconnect(state: State<'_, AppState>) -> Result<ConnectionStatus> {
    blocking(state, |b| Ok(b.connect())).await
}

#[tauri::command]
pub(crate) async fn list_tunnels(state: State<'_, AppState>) -> Result<Vec<TunnelSummary>> {
    blocking(state, Backend::list_tunnels).await
}

#[tauri::command]
pub(crate) async fn get_tunnel(state: State<'_, AppState>, name: String) -> Result<TunnelDetail> {
    let name = tunnel_name(&name)?;
    blocking(state, move |b| b.get_tunnel(name)).await
}

#[tauri::command]
pub(crate) async fn activate(state: State<'_, AppState>, name: String) -> Result<()> {
    let name = tunnel_name(&name)?;
    blocking(state, move |b| b.activate(name)).await
}

#[tauri::command]
pub(crate) async fn deactivate(state: State<'_, AppState>, name: String) -> Result<()> {
    let name = tunnel_name(&name)?;
    blocking(state, move |b| b.deactivate(name)).await
}

#[tauri::command]
pub(crate) async fn set_routing_mode(
    state: State<'_, AppState>,
    name: String,
    mode: RoutingMode,
) -> Result<()> {
    let name = tunnel_name(&name)?;
    blocking(state, move |b| b.set_routing_mode(name, mode)).await
}

#[tauri::command]
pub(crate) async fn set_kill_switch(
    state: State<'_, AppState>,
    name: String,
    enabled: bool,
) -> Result<()> {
    let name = tunnel_name(&name)?;
    blocking(state, move |b| b.set_kill_switch(name, enabled)).await
}

#[tauri::command]
pub(crate) async fn create_tunnel(
    state: State<'_, AppState>,
    name: String,
) -> Result<TunnelDetail> {
    let name = tunnel_name(&name)?;
    blocking(state, move |b| b.create_tunnel(name)).await
}

#[derive(serde::Serialize)]
pub(crate) struct Updated {
    warnings: Vec<String>,
}

#[tauri::command]
pub(crate) async fn update_tunnel(
    state: State<'_, AppState>,
    name: String,
    config_text: String,
) -> Result<Updated> {
    let name = tunnel_name(&name)?;
    let config_text = zeroize::Zeroizing::new(config_text);
    blocking(state, move |b| {
        let warnings = b.update_tunnel(name, config_text.to_string())?;
        Ok(Updated { warnings })
    })
    .await
}

#[tauri::command]
pub(crate) async fn rename_tunnel(
    state: State<'_, AppState>,
    from: String,
    to: String,
) -> Result<()> {
    let (from, to) = (tunnel_name(&from)?, tunnel_name(&to)?);
    blocking(state, move |b| b.rename_tunnel(from, to)).await
}

#[tauri::command]
pub(crate) async fn delete_tunnel(state: State<'_, AppState>, name: String) -> Result<()> {
    let name = tunnel_name(&name)?;
    blocking(state, move |b| b.delete_tunnel(name)).await
}

#[tauri::command]
pub(crate) async fn validate_config(text: String) -> Result<Validation> {
    let text = zeroize::Zeroizing::new(text);
    Ok(crate::validate::validate(&text))
}

#[tauri::command]
pub(crate) async fn import_files(
    state: State<'_, AppState>,
    paths: Vec<String>,
) -> Result<ImportReport> {
    blocking(state, move |b| Ok(b.import_files(&paths))).await
}

#[tauri::command]
pub(crate) async fn import_qr_image(
    state: State<'_, AppState>,
    image: QrImage,
    name: Option<String>,
) -> Result<ImportReport> {
    let name = name.as_deref().map(tunnel_name).transpose()?;
    blocking(state, move |b| Ok(b.import_qr_image(&image, name))).await
}

#[tauri::command]
pub(crate) async fn import_qr_clipboard(
    app: AppHandle,
    state: State<'_, AppState>,
    name: Option<String>,
) -> Result<ImportReport> {
    use tauri_plugin_clipboard_manager::ClipboardExt as _;
    let name = name.as_deref().map(tunnel_name).transpose()?;
    let decoded = match app.clipboard().read_image() {
        Ok(image) => culvert_config::decode_qr_rgba(image.width(), image.height(), image.rgba()),
        Err(e) => {
            return Err(CommandError::invalid_input(format!(
                "the clipboard holds no image ({e}); copy an image of a QR code first"
            )));
        }
    };
    blocking(state, move |b| {
        Ok(b.import_decoded_qr(decoded, "the clipboard image", name))
    })
    .await
}

#[tauri::command]
pub(crate) async fn resolve_conflict(
    state: State<'_, AppState>,
    id: u64,
    action: ConflictAction,
) -> Result<ImportReport> {
    blocking(state, move |b| b.resolve_conflict(id, action)).await
}

#[tauri::command]
pub(crate) async fn tunnel_qr_svg(state: State<'_, AppState>, name: String) -> Result<String> {
    let name = tunnel_name(&name)?;
    blocking(state, move |b| b.tunnel_qr_svg(name)).await
}

#[tauri::command]
pub(crate) async fn reveal_private_key(state: State<'_, AppState>, name: String) -> Result<String> {
    let name = tunnel_name(&name)?;
    blocking(state, move |b| b.reveal_private_key(name)).await
}

#[tauri::command]
pub(crate) async fn export_tunnel_file(
    state: State<'_, AppState>,
    name: String,
    path: PathBuf,
) -> Result<()> {
    let name = tunnel_name(&name)?;
    blocking(state, move |b| b.export_tunnel_file(name, &path)).await
}

#[tauri::command]
pub(crate) async fn export_all_zip(state: State<'_, AppState>, path: PathBuf) -> Result<()> {
    blocking(state, move |b| b.export_all_zip(&path)).await
}

#[tauri::command]
pub(crate) async fn read_log(
    state: State<'_, AppState>,
    since: Option<u64>,
    limit: u32,
) -> Result<Vec<LogLine>> {
    blocking(state, move |b| b.read_log(since, limit)).await
}

#[tauri::command]
pub(crate) async fn service_status(state: State<'_, AppState>) -> Result<ServiceStatus> {
    blocking(state, Backend::service_status).await
}

#[tauri::command]
pub(crate) async fn get_settings(state: State<'_, AppState>) -> Result<Settings> {
    Ok(state.settings())
}

#[tauri::command]
pub(crate) async fn set_settings(
    app: AppHandle,
    state: State<'_, AppState>,
    settings: Settings,
) -> Result<Settings> {
    settings.check().map_err(CommandError::invalid_input)?;
    crate::app::apply_settings(&app, &state, settings)
}
