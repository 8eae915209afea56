// Live video of a camera over WebRTC (WHEP on /api/v1/cameras/{name}/whep): the camera's H.264 as it
// arrives, no transcoding, from the next keyframe.

/** Plays camera into video; resolves to {close()} that ends the session. */
export async function play(video, camera) {
  const pc = new RTCPeerConnection();
  pc.addTransceiver('video', { direction: 'recvonly' });
  pc.ontrack = (e) => { video.srcObject = e.streams[0] || new MediaStream([e.track]); };
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise((resolve) => { // no trickle: send the offer with its candidates
    if (pc.iceGatheringState === 'complete') return resolve();
    pc.addEventListener('icegatheringstatechange', () => { if (pc.iceGatheringState === 'complete') resolve(); });
    setTimeout(resolve, 2000);
  });
  let res;
  try {
    res = await fetch(`/api/v1/cameras/${encodeURIComponent(camera)}/whep`, {
      method: 'POST', credentials: 'same-origin', headers: { 'Content-Type': 'application/sdp' }, body: pc.localDescription.sdp,
    });
  } catch (e) {
    pc.close();
    throw e;
  }
  if (!res.ok) {
    pc.close();
    throw new Error((await res.text()).trim() || `${res.status}`);
  }
  const location = res.headers.get('Location');
  await pc.setRemoteDescription({ type: 'answer', sdp: await res.text() });
  return {
    pc,
    close() {
      pc.close();
      if (location) fetch(location, { method: 'DELETE', credentials: 'same-origin' }).catch(() => {});
    },
  };
}
