import uPlot from 'uplot'
import 'uplot/dist/uPlot.min.css'

/** A small latency-over-time line chart; `update` redraws it with new points. */
export function latencyChart(el: HTMLElement, width = 360) {
  const plot = new uPlot(
    {
      width,
      height: 120,
      legend: { show: false },
      scales: { x: { time: true } },
      axes: [{ size: 28 }, { size: 44, values: (_u, v) => v.map((x) => `${x} ms`) }],
      series: [{}, { label: 'latency', stroke: '#2563eb', width: 2, spanGaps: true }],
    },
    [[], []],
    el,
  )
  return {
    update(points: { at: number; ms: number | null }[]) {
      plot.setData([points.map((p) => p.at / 1000), points.map((p) => p.ms)])
    },
    destroy: () => plot.destroy(),
  }
}

/** Bytes stored per backend, as bars. */
export function storageChart(el: HTMLElement, width = 420) {
  const bars = uPlot.paths.bars?.({ size: [0.6, 60] })
  let names: string[] = []
  const plot = new uPlot(
    {
      width,
      height: 160,
      legend: { show: false },
      scales: { x: { time: false } },
      axes: [
        { values: (_u, v) => v.map((i) => names[i] ?? '') },
        { size: 60, values: (_u, v) => v.map((x) => `${(x / 2 ** 20).toFixed(1)} MiB`) },
      ],
      series: [{}, { label: 'bytes', fill: '#93c5fd', stroke: '#2563eb', paths: bars }],
    },
    [[], []],
    el,
  )
  return {
    update(rows: { backend: string; bytes: number }[]) {
      names = rows.map((r) => r.backend)
      plot.setData([rows.map((_r, i) => i), rows.map((r) => r.bytes)])
    },
    destroy: () => plot.destroy(),
  }
}
