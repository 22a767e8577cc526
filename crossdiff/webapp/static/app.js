// The page: the form, the job queue (position, progress, cancel), the history of this session,
// the per-sample downloads and "Fit body". The 3D scene lives in viewer.js.
import { Viewer, parseNpy } from './viewer.js';

const $ = (id) => document.getElementById(id);
const POLL_MS = 300;
const state = { info: null, viewer: null, job: null, history: [], shown: null };

async function api(method, url, body) {
  // Every POST is JSON: the server refuses others (a form on another site could send those).
  const response = await fetch(url, method === 'GET' ? {} : {
    method, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body || {}),
  });
  const data = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
  if (!response.ok) throw new Error(data.error || `HTTP ${response.status}`);
  return data;
}

function setMessage(text, kind = 'error') {
  $('message').textContent = text;
  $('message').className = kind;
}

function setStatus(job) {
  const bar = $('progress');
  if (!job) { bar.value = 0; $('status-text').textContent = 'idle'; return; }
  const what = job.kind === 'fit' ? 'Fit body' : 'Generate';
  if (job.state === 'queued') {
    bar.removeAttribute('value');
    $('status-text').textContent = `${what}: waiting, position ${job.position} in the queue`;
  } else if (job.state === 'running') {
    bar.value = job.total ? job.step / job.total : 0;
    $('status-text').textContent = `${what}: ${job.stage}` + (job.total ? ` (step ${job.step}/${job.total})` : '');
  } else {
    bar.value = job.state === 'done' ? 1 : 0;
    $('status-text').textContent = `${what}: ${job.state}`;
  }
}

function busy(isBusy) {
  $('generate').disabled = isBusy;
  $('cancel').disabled = !isBusy;
  document.querySelectorAll('.fit').forEach((b) => { b.disabled = isBusy; });
}

// Follows a job until it ends; resolves with its result (null when cancelled), rejects on failure.
async function follow(job) {
  state.job = job;
  busy(true);
  try {
    while (job.state === 'queued' || job.state === 'running') {
      setStatus(job);
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      job = await api('GET', `/api/jobs/${job.id}`);
    }
    setStatus(job);
    if (job.state === 'failed') throw new Error(job.error);
    return job.state === 'done' ? job.result : null;
  } finally {
    state.job = null;
    busy(false);
  }
}

function formValues() {
  const form = new FormData($('generate-form'));
  return { caption: form.get('caption'), seconds: form.get('seconds'), samples: form.get('samples'),
           seed: form.get('seed'), guidance: form.get('guidance'), path: form.get('path') };
}

async function generate(event) {
  event.preventDefault();
  setMessage('');
  try {
    const result = await follow(await api('POST', '/api/generate', formValues()));
    if (!result) return;
    state.history.unshift(result);
    renderHistory();
    showGeneration(result);
    if (result.notes.length) setMessage(result.notes.join(' '), 'info');
  } catch (error) {
    setMessage(error.message);
  }
}

function showGeneration(result) {
  state.shown = result;
  $('empty-hint').hidden = true;
  state.viewer.setSamples(result.samples);
  state.viewer.playing = true;
  $('play').textContent = 'Pause';
  for (const id of ['play', 'scrub']) $(id).disabled = false;
  $('sample-cards').replaceChildren(...result.samples.map(sampleCard));
  for (const sample of result.samples) if (sample.body) loadMesh(sample);
}

function sampleCard(sample, k) {
  const card = document.createElement('div');
  card.className = 'sample';
  card.id = `sample-${sample.id}`;
  const title = document.createElement('b');
  title.textContent = `#${k + 1}: ${sample.caption}`;
  const meta = document.createElement('div');
  const seconds = (sample.frames / sample.fps).toFixed(1);
  meta.textContent = `${seconds} s · seed ${sample.seed} · ${sample.path} · guidance ${sample.guidance}`;
  const links = document.createElement('div');
  for (const [kind, url] of Object.entries(sample.downloads)) {
    const a = document.createElement('a');
    a.href = url; a.textContent = kind === 'obj' ? '.obj (this frame)' : `.${kind}`;
    a.download = ''; a.className = `download-${kind.replace('.', '-')}`;
    if (kind === 'obj') a.addEventListener('click', () => { a.href = `${url}?frame=${state.viewer.frame}`; });
    links.append(a);
  }
  const fit = document.createElement('button');
  fit.type = 'button'; fit.className = 'fit'; fit.textContent = sample.body ? 'Fit body again' : 'Fit body';
  fit.disabled = Boolean(state.job);
  fit.addEventListener('click', () => fitBody(sample));
  card.append(title, meta, links, fit);
  if (sample.body) {
    const toggle = document.createElement('label');
    toggle.innerHTML = ' <input type="checkbox" checked> show body';
    toggle.querySelector('input').addEventListener('change', (e) => state.viewer.showMesh(sample.id, e.target.checked));
    card.append(toggle);
  }
  return card;
}

async function fitBody(sample) {
  setMessage('');
  try {
    const result = await follow(await api('POST', `/api/samples/${sample.id}/fit`));
    if (!result) return;
    const updated = result.sample;
    for (const generation of state.history) {
      generation.samples = generation.samples.map((s) => (s.id === updated.id ? updated : s));
    }
    if (state.shown && state.shown.samples.some((s) => s.id === updated.id)) {
      const k = state.shown.samples.findIndex((s) => s.id === updated.id);
      $(`sample-${updated.id}`).replaceWith(sampleCard(updated, k));
      await loadMesh(updated);
    }
    setMessage(`body fitted (${result.body}), mean joint error ${result.mean_joint_error_cm.toFixed(2)} cm`, 'info');
  } catch (error) {
    setMessage(error.message);
  }
}

async function loadMesh(sample) {
  const mesh = await api('GET', `/api/samples/${sample.id}/mesh`);
  const npy = parseNpy(await (await fetch(mesh.vertices)).arrayBuffer());
  state.viewer.setMesh(sample.id, npy.data, npy.shape[1], mesh.faces);
}

function renderHistory() {
  $('history').replaceChildren(...state.history.map((result) => {
    const item = document.createElement('li');
    const settings = `${result.seconds.toFixed(1)} s, ${result.samples.length}×, ${result.path}, seed ${result.seed}`;
    item.textContent = `${result.caption} (${settings})`;
    item.addEventListener('click', () => showGeneration(result));
    return item;
  }));
}

async function cancel() {
  if (!state.job) return;
  try {
    setStatus(await api('POST', `/api/jobs/${state.job.id}/cancel`));
  } catch (error) {
    setMessage(error.message);
  }
}

function fillForm(info) {
  const { limits, defaults } = info;
  const set = (id, value, min, max) => Object.assign($(id), { value, ...(min !== undefined && { min, max }) });
  set('seconds', defaults.seconds, limits.min_seconds, limits.max_seconds);
  set('samples', defaults.samples, 1, limits.max_samples);
  set('seed', defaults.seed, 0, 2147483647);
  set('guidance', defaults.guidance, 0, limits.max_guidance);
  $('path').replaceChildren(...Object.entries(info.paths).map(([value, label]) => new Option(label, value)));
  $('path').value = defaults.path;
  $('examples').replaceChildren(...info.examples.map((caption) => {
    const chip = document.createElement('button');
    chip.type = 'button'; chip.textContent = caption;
    chip.addEventListener('click', () => { $('caption').value = caption; });
    return chip;
  }));
  $('model-info').textContent = `model ${info.checkpoint} · ${info.sampler} ${info.steps} steps · `
    + `${limits.min_seconds}–${limits.max_seconds} s at ${info.fps} fps`;
}

function setUpPlayer(viewer) {
  viewer.onFrame = (frame, frames) => {
    $('scrub').max = Math.max(0, frames - 1);
    $('scrub').value = frame;
    $('frame-label').textContent = `${frame + 1} / ${frames}`;
  };
  const toggle = () => {
    viewer.playing = !viewer.playing;
    $('play').textContent = viewer.playing ? 'Pause' : 'Play';
  };
  $('play').addEventListener('click', toggle);
  document.addEventListener('keydown', (e) => {   // space plays/pauses unless typing
    if (e.code === 'Space' && !['TEXTAREA', 'INPUT', 'SELECT', 'BUTTON'].includes(e.target.tagName) && viewer.frames) {
      e.preventDefault();
      toggle();
    }
  });
  $('scrub').addEventListener('input', (e) => {
    viewer.playing = false;
    $('play').textContent = 'Play';
    viewer.seek(Number(e.target.value));
  });
  $('speed').addEventListener('change', (e) => { viewer.speed = Number(e.target.value); });
}

async function start() {
  try {
    state.info = await api('GET', '/api/info');
  } catch (error) {
    setMessage(`cannot reach the demo server: ${error.message}`);
    return;
  }
  fillForm(state.info);
  state.viewer = new Viewer($('viewer'), state.info.chains);
  setUpPlayer(state.viewer);
  $('generate-form').addEventListener('submit', generate);
  $('cancel').addEventListener('click', cancel);
  document.body.dataset.ready = 'true';
}

start();
