// The 3D viewer: samples side by side as coloured 22-joint skeletons on a ground grid, each with its
// root trajectory; an orbit camera; playback runs here in the browser (the server only sends joints).
import * as THREE from 'three';
import { OrbitControls } from 'three/addons/controls/OrbitControls.js';

// Chains in skeleton.py's order: right leg, left leg, spine, right arm, left arm.
const CHAIN_COLOURS = [0xd62728, 0x1f77b4, 0x4a4a4a, 0xff7f0e, 0x2ca02c];
const SPACING = 1.6;          // metres between the starting points of samples side by side
const BONE_RADIUS = 0.022;
const UP = new THREE.Vector3(0, 1, 0);

export class Viewer {
  constructor(canvas, chains) {
    this.canvas = canvas;
    this.chains = chains;
    this.renderer = new THREE.WebGLRenderer({ canvas, antialias: true });
    this.renderer.setPixelRatio(Math.min(window.devicePixelRatio, 2));
    this.scene = new THREE.Scene();
    this.scene.background = new THREE.Color(0xdde4ea);
    this.scene.add(new THREE.HemisphereLight(0xffffff, 0x8899aa, 2.2));
    const sun = new THREE.DirectionalLight(0xffffff, 1.4);
    sun.position.set(3, 6, 4);
    this.scene.add(sun);
    const grid = new THREE.GridHelper(30, 60, 0x7a8794, 0xb4bec8);
    this.scene.add(grid);
    this.camera = new THREE.PerspectiveCamera(40, 1, 0.05, 200);
    this.camera.position.set(2.5, 2.0, 5.0);
    this.controls = new OrbitControls(this.camera, canvas);
    this.controls.target.set(0, 0.9, 0);
    this.controls.update();
    this.figures = [];
    this.time = 0; this.speed = 1; this.playing = true; this.frame = 0; this.frames = 0; this.fps = 20;
    this.onFrame = () => {};
    new ResizeObserver(() => this.resize()).observe(canvas.parentElement);
    this.resize();
    this.last = performance.now();
    this.renderer.setAnimationLoop(() => this.tick());
  }

  resize() {
    const box = this.canvas.parentElement;
    this.renderer.setSize(box.clientWidth, box.clientHeight, false);
    this.camera.aspect = box.clientWidth / Math.max(1, box.clientHeight);
    this.camera.updateProjectionMatrix();
  }

  // samples: [{id, joints: [L][22][3], fps}], shown left to right.
  setSamples(samples) {
    for (const figure of this.figures) this.scene.remove(figure.group);
    this.figures = samples.map((s, k) => new Figure(s, this.chains, (k - (samples.length - 1) / 2) * SPACING));
    for (const figure of this.figures) this.scene.add(figure.group);
    this.frames = Math.max(0, ...samples.map((s) => s.joints.length));
    this.fps = samples.length ? samples[0].fps : 20;
    this.time = 0;
    const width = samples.length * SPACING;
    this.controls.target.set(0, 0.9, 0);
    this.camera.position.set(0.8 + width * 0.25, 1.5, 2.4 + width * 0.55);
    this.controls.update();
    this.show(0);
  }

  figure(id) { return this.figures.find((f) => f.id === id); }

  // vertices: Float32Array [T * V * 3]; faces: flat triangle indices.
  setMesh(id, vertices, vertexCount, faces) { this.figure(id)?.setMesh(vertices, vertexCount, faces, this.frame); }

  showMesh(id, visible) { this.figure(id)?.showMesh(visible); }

  seek(frame) {
    this.time = frame / this.fps;
    this.show(frame);
  }

  show(frame) {
    this.frame = frame;
    for (const figure of this.figures) figure.pose(Math.min(frame, figure.frames - 1));
    this.onFrame(frame, this.frames);
  }

  tick() {
    const now = performance.now();
    const dt = Math.min((now - this.last) / 1000, 0.25);   // a hidden tab must not jump far ahead
    this.last = now;
    if (this.playing && this.frames > 0) {
      this.time += dt * this.speed;
      const frame = Math.floor(this.time * this.fps) % this.frames;
      if (frame !== this.frame) this.show(frame);
    }
    this.controls.update();
    this.renderer.render(this.scene, this.camera);
  }
}

// One sample: bones as cylinders coloured by chain, joints as spheres, the root's path on the floor.
class Figure {
  constructor(sample, chains, x) {
    this.id = sample.id;
    this.joints = sample.joints;
    this.frames = sample.joints.length;
    this.group = new THREE.Group();
    const root = this.joints[0][0];
    this.group.position.set(x - root[0], 0, -root[2]);   // every sample starts at its own slot
    this.bones = [];
    chains.forEach((chain, c) => {
      const colour = CHAIN_COLOURS[c % CHAIN_COLOURS.length];
      const material = new THREE.MeshStandardMaterial({ color: colour, roughness: 0.6 });
      for (let i = 1; i < chain.length; i++) {
        const mesh = new THREE.Mesh(new THREE.CylinderGeometry(BONE_RADIUS, BONE_RADIUS, 1, 10), material);
        this.bones.push({ mesh, from: chain[i - 1], to: chain[i] });
        this.group.add(mesh);
      }
    });
    const jointMaterial = new THREE.MeshStandardMaterial({ color: 0x333d47 });
    this.balls = this.joints[0].map(() => {
      const ball = new THREE.Mesh(new THREE.SphereGeometry(BONE_RADIUS * 1.5, 12, 8), jointMaterial);
      this.group.add(ball);
      return ball;
    });
    const path = this.joints.map((frame) => new THREE.Vector3(frame[0][0], 0.004, frame[0][2]));
    this.group.add(new THREE.Line(new THREE.BufferGeometry().setFromPoints(path),
                                  new THREE.LineBasicMaterial({ color: 0x8a2be2 })));
    this.mesh = null;
  }

  pose(t) {
    const p = this.joints[t];
    const a = new THREE.Vector3(), b = new THREE.Vector3();
    for (const bone of this.bones) {
      a.fromArray(p[bone.from]); b.fromArray(p[bone.to]);
      const length = a.distanceTo(b);
      bone.mesh.position.copy(a).add(b).multiplyScalar(0.5);
      bone.mesh.scale.set(1, Math.max(length, 1e-4), 1);
      bone.mesh.quaternion.setFromUnitVectors(UP, b.sub(a).normalize());
    }
    this.balls.forEach((ball, j) => ball.position.fromArray(p[j]));
    if (this.mesh) this.poseMesh(t);
  }

  setMesh(vertices, vertexCount, faces, t) {
    if (this.mesh) this.group.remove(this.mesh);
    const geometry = new THREE.BufferGeometry();
    geometry.setAttribute('position', new THREE.BufferAttribute(new Float32Array(vertexCount * 3), 3));
    geometry.setIndex(faces);
    const material = new THREE.MeshStandardMaterial({ color: 0xc9b8a6, roughness: 0.7, transparent: true,
                                                      opacity: 0.85, side: THREE.DoubleSide });
    this.mesh = new THREE.Mesh(geometry, material);
    this.meshFrames = { vertices, vertexCount };
    this.group.add(this.mesh);
    this.poseMesh(t);
  }

  poseMesh(t) {
    const { vertices, vertexCount } = this.meshFrames;
    const frame = Math.min(t, vertices.length / (vertexCount * 3) - 1);
    const position = this.mesh.geometry.attributes.position;
    position.array.set(vertices.subarray(frame * vertexCount * 3, (frame + 1) * vertexCount * 3));
    position.needsUpdate = true;
    this.mesh.geometry.computeVertexNormals();
    this.mesh.geometry.computeBoundingSphere();
  }

  showMesh(visible) { if (this.mesh) this.mesh.visible = visible; }
}

// A float32 .npy file (what the server writes) -> {data: Float32Array, shape: [..]}.
export function parseNpy(buffer) {
  const bytes = new Uint8Array(buffer);
  const major = bytes[6];
  const view = new DataView(buffer);
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  const header = new TextDecoder().decode(bytes.subarray(start, start + headerLength));
  if (!header.includes("'<f4'")) throw new Error(`expected a float32 .npy, got ${header}`);
  const shape = header.match(/'shape':\s*\(([^)]*)\)/)[1].split(',').filter((s) => s.trim()).map(Number);
  return { data: new Float32Array(buffer, start + headerLength), shape };
}
