// Which view is shown, the open editor, and the app-wide dialogs.
export type View = "tunnels" | "log" | "settings";
export type GlobalDialog = "create" | "help" | "camera" | null;

export interface EditorSession {
  name: string;
  /** The text as loaded (private key shown as "(hidden)"), to detect unsaved changes. */
  original: string;
  /** The public key the service has stored, shown while the private key is "(hidden)". */
  storedPublicKey: string;
}

class Ui {
  view = $state<View>("tunnels");
  editing = $state<EditorSession | null>(null);
  dialog = $state<GlobalDialog>(null);
  dragging = $state(false);
  /** Dialogs open anywhere; global shortcuts are off while one is open. */
  openDialogs = $state(0);

  reset(): void {
    this.view = "tunnels";
    this.editing = null;
    this.dialog = null;
    this.dragging = false;
    this.openDialogs = 0;
  }
}

export const ui = new Ui();
