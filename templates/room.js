// egress-queue's built-in room composite template (plain script; livekit-client's UMD build is the global
// LivekitClient). Layouts: grid (every participant in equal tiles; a screen share switches it to speaker),
// speaker (the active speaker or the screen share large, the others in a column on the right),
// single-speaker (only the active speaker or the screen share). A `-light` suffix gives a white background.
(() => {
  'use strict';
  const { Room, RoomEvent, ParticipantEvent, Track } = LivekitClient;
  const params = new URLSearchParams(window.location.search);
  const url = params.get('url');
  const token = params.get('token');
  let layout = params.get('layout') || 'grid';
  const stage = document.getElementById('stage');
  // Not a number or out of range (0–4000 ms), it would make every jitterBufferTarget assignment throw.
  const lagParam = Number(params.get('audio_output_lag_ms') ?? 30);
  const OUTPUT_LAG_MS = Number.isFinite(lagParam) ? Math.min(Math.max(lagParam, 0), 2000) : 30;

  let started = false;
  const startRecording = () => {
    if (started) return;
    started = true;
    console.log('START_RECORDING');
  };
  let ended = false;
  const endRecording = () => {
    if (ended) return;
    ended = true;
    console.log('END_RECORDING');
  };
  const showError = (message) => {
    const error = document.createElement('div');
    error.className = 'error';
    error.textContent = message;
    document.body.appendChild(error);
  };

  /** One tile per published video (camera or screen share), or a name card for a participant with none. */
  const tiles = new Map(); // key → { key, participant, source, element, joinedAt }
  let activeSpeaker;

  function tileKey(participant, source) {
    return `${participant.identity}/${source}`;
  }

  function ensureTile(participant, source, videoTrack) {
    const key = tileKey(participant, source);
    let tile = tiles.get(key);
    if (!tile) {
      const element = document.createElement('div');
      element.className = `tile${source === Track.Source.ScreenShare ? ' screen' : ''}`;
      element.dataset.identity = participant.identity;
      const name = document.createElement('span');
      name.className = 'name';
      name.textContent = participant.name || participant.identity;
      element.appendChild(name);
      tile = { key, participant, source, element, joinedAt: participant.joinedAt ? participant.joinedAt.getTime() : Date.now() };
      tiles.set(key, tile);
    }
    if (videoTrack && !tile.element.querySelector('video')) {
      holdVideoBack(videoTrack);
      const video = videoTrack.attach();
      video.muted = true;
      video.addEventListener('playing', startRecording, { once: true });
      tile.element.prepend(video);
    }
    return tile;
  }

  /**
   * Lip sync. Chrome plays each subscribed track on its own (livekit-client gives every track its own stream, so
   * WebRTC does no lip sync between them), and sound reaches the capture later than pictures: it waits longer in
   * its jitter buffer, more so on a busy host, then goes through Chrome's audio output and PulseAudio. Every
   * second, each participant's video jitter buffer target is moved so that its video waits as long as its audio
   * does, plus OUTPUT_LAG_MS for the audio output path (measured from the test publisher's flashes and beeps).
   * Before the first measurement a video waits OUTPUT_LAG_MS.
   */
  const MAX_VIDEO_TARGET_MS = 2000;
  const jitterTotals = new WeakMap(); // receiver → { delay, emitted }

  function holdVideoBack(videoTrack) {
    const receiver = videoTrack.receiver;
    if (receiver && 'jitterBufferTarget' in receiver && receiver.jitterBufferTarget === null) receiver.jitterBufferTarget = OUTPUT_LAG_MS;
  }

  /** Jitter-buffer delay of the receiver's stream since the last reading, ms; undefined when nothing played. */
  async function jitterDelay(receiver) {
    let delay;
    for (const stats of (await receiver.getStats()).values()) {
      if (stats.type !== 'inbound-rtp' || !stats.jitterBufferEmittedCount) continue;
      const last = jitterTotals.get(receiver);
      jitterTotals.set(receiver, { delay: stats.jitterBufferDelay, emitted: stats.jitterBufferEmittedCount });
      if (last && stats.jitterBufferEmittedCount > last.emitted)
        delay = ((stats.jitterBufferDelay - last.delay) / (stats.jitterBufferEmittedCount - last.emitted)) * 1000;
    }
    return delay;
  }

  async function lipSync(participant) {
    const video = participant.getTrackPublication(Track.Source.Camera)?.track?.receiver;
    const audio = participant.getTrackPublication(Track.Source.Microphone)?.track?.receiver;
    if (!video || !audio || !('jitterBufferTarget' in video)) return;
    const [audioMs, videoMs] = await Promise.all([jitterDelay(audio), jitterDelay(video)]);
    if (audioMs === undefined || videoMs === undefined) return;
    const current = video.jitterBufferTarget ?? 0;
    const target = Math.round(Math.min(MAX_VIDEO_TARGET_MS, Math.max(0, current + (audioMs + OUTPUT_LAG_MS - videoMs) / 2)));
    video.jitterBufferTarget = target;
    console.debug(`lip sync ${participant.identity}: audio ${audioMs.toFixed(0)} ms, video ${videoMs.toFixed(0)} ms, video target ${target} ms`);
  }

  function dropTile(participant, source) {
    const key = tileKey(participant, source);
    const tile = tiles.get(key);
    if (!tile) return;
    tile.element.remove();
    tiles.delete(key);
  }

  /** Camera tiles; participants without a camera get a name card so everyone shows in the grid. */
  function syncParticipant(participant) {
    const camera = participant.getTrackPublication(Track.Source.Camera);
    if (camera && camera.track && camera.isSubscribed) ensureTile(participant, Track.Source.Camera, camera.track);
    else {
      const tile = tiles.get(tileKey(participant, Track.Source.Camera));
      if (tile) tile.element.querySelector('video')?.remove();
      else ensureTile(participant, Track.Source.Camera);
    }
    const screen = participant.getTrackPublication(Track.Source.ScreenShare);
    if (screen && screen.track && screen.isSubscribed) ensureTile(participant, Track.Source.ScreenShare, screen.track);
    else dropTile(participant, Track.Source.ScreenShare);
  }

  function render() {
    document.body.classList.toggle('light', layout.endsWith('-light'));
    const ordered = [...tiles.values()].sort((a, b) => a.joinedAt - b.joinedAt || a.key.localeCompare(b.key));
    const screen = ordered.find((t) => t.source === Track.Source.ScreenShare);
    let mode = layout.replace(/-(light|dark)$/, '');
    if (mode === 'grid' && screen) mode = 'speaker';
    const speaking = activeSpeaker && ordered.find((t) => t.participant.identity === activeSpeaker && t.source === Track.Source.Camera);
    const main = screen || speaking || ordered[0];
    stage.replaceChildren();
    if (ordered.length === 0) return;
    if (mode === 'single-speaker') {
      stage.style.gridTemplateColumns = '1fr';
      stage.style.gridTemplateRows = '1fr';
      stage.appendChild(main.element);
      return;
    }
    if (mode === 'speaker' && ordered.length > 1) {
      const others = ordered.filter((t) => t !== main);
      stage.style.gridTemplateColumns = '4fr 1fr';
      stage.style.gridTemplateRows = `repeat(${others.length}, 1fr)`;
      main.element.style.gridRow = `1 / span ${others.length}`;
      main.element.style.gridColumn = '1';
      stage.appendChild(main.element);
      for (const tile of others) {
        tile.element.style.gridRow = '';
        tile.element.style.gridColumn = '2';
        stage.appendChild(tile.element);
      }
      return;
    }
    const columns = Math.ceil(Math.sqrt(ordered.length));
    const rows = Math.ceil(ordered.length / columns);
    stage.style.gridTemplateColumns = `repeat(${columns}, 1fr)`;
    stage.style.gridTemplateRows = `repeat(${rows}, 1fr)`;
    for (const tile of ordered) {
      tile.element.style.gridRow = '';
      tile.element.style.gridColumn = '';
      stage.appendChild(tile.element);
    }
  }

  function update() {
    render();
  }

  const room = new Room({ adaptiveStream: false, dynacast: false });

  /** The egress-sdk contract: the recorder's metadata is {"layout": …}, set by UpdateLayout. */
  function onMetadataChanged() {
    const metadata = room.localParticipant.metadata;
    if (!metadata) return;
    try {
      const state = JSON.parse(metadata);
      if (state && typeof state.layout === 'string' && state.layout && state.layout !== layout) {
        layout = state.layout;
        update();
      }
    } catch {
      // Not ours: ignore.
    }
  }

  room
    .on(RoomEvent.TrackSubscribed, (track, _publication, participant) => {
      if (track.kind === Track.Kind.Audio) {
        const audio = track.attach();
        document.body.appendChild(audio);
        // Audio only: start once the sound has had a moment to flow.
        setTimeout(startRecording, 500);
      }
      syncParticipant(participant);
      update();
    })
    .on(RoomEvent.TrackUnsubscribed, (track, _publication, participant) => {
      track.detach().forEach((element) => element.remove());
      syncParticipant(participant);
      update();
    })
    .on(RoomEvent.TrackMuted, (_publication, participant) => {
      syncParticipant(participant);
      update();
    })
    .on(RoomEvent.TrackUnmuted, (_publication, participant) => {
      syncParticipant(participant);
      update();
    })
    .on(RoomEvent.ParticipantConnected, (participant) => {
      syncParticipant(participant);
      update();
    })
    .on(RoomEvent.ParticipantDisconnected, (participant) => {
      dropTile(participant, Track.Source.Camera);
      dropTile(participant, Track.Source.ScreenShare);
      update();
    })
    .on(RoomEvent.ActiveSpeakersChanged, (speakers) => {
      const next = speakers.find((p) => p !== room.localParticipant);
      if (next && next.identity !== activeSpeaker) {
        activeSpeaker = next.identity;
        update();
      }
    })
    .on(RoomEvent.Disconnected, endRecording);
  room.localParticipant.on(ParticipantEvent.ParticipantMetadataChanged, onMetadataChanged);
  setInterval(() => {
    for (const participant of room.remoteParticipants.values()) lipSync(participant).catch(() => {});
  }, 1000);

  if (!url || !token) {
    showError('url and token are required in the query string');
    return;
  }
  room
    .connect(url, token, { autoSubscribe: true })
    .then(() => {
      onMetadataChanged();
      for (const participant of room.remoteParticipants.values()) syncParticipant(participant);
      update();
      // Anything subscribed but no frame yet (a muted camera): record anyway after 5 s, as LiveKit's template.
      setTimeout(() => {
        if (room.remoteParticipants.size > 0) startRecording();
      }, 5000);
    })
    .catch((err) => showError(`could not connect to the room: ${err && err.message ? err.message : err}`));
})();
