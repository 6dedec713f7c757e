// Tunnel names follow wg-quick: they become interface names.
export const TUNNEL_NAME_PATTERN = /^[a-zA-Z0-9_=+.-]{1,15}$/;

export function isValidTunnelName(name: string): boolean {
  return TUNNEL_NAME_PATTERN.test(name);
}
