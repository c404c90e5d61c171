// TEMPORARY placeholder so the daemon builds while the real publisher is written (helper task).
export interface PublishResult {
  rows: number
  pins: number
  ms: number
  path: string
}
export class PinIndexPublisher {
  constructor(
    _dataDir: string,
    _opts: { onPublished?: (r: PublishResult) => void; onError?: (err: unknown) => void } = {},
  ) {}
  schedule(): void {}
  async flush(): Promise<void> {}
  close(): void {}
}
