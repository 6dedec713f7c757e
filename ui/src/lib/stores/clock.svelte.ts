// A wall clock that ticks once a second so "… ago" texts stay current.
class Clock {
  now = $state(Date.now());
  #timer: ReturnType<typeof setInterval> | null = null;

  start(): void {
    if (this.#timer !== null) return;
    this.now = Date.now();
    this.#timer = setInterval(() => (this.now = Date.now()), 1000);
  }

  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }
}

export const clock = new Clock();
