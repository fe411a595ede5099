// Post the page's forms in the background and redraw its panels every second.
(() => {
  const body = document.body;
  const query = `who=${body.dataset.who}&lang=${body.dataset.lang}`;
  const note = document.getElementById("note");
  const shown = {};
  let busy = false;

  function scrollChat() {
    const chat = document.getElementById("chat-log");
    if (chat) chat.scrollTop = chat.scrollHeight;
  }

  async function refresh() {
    if (busy) return;
    busy = true;
    try {
      const answer = await fetch(`/panels?${query}`);
      if (!answer.ok) return;
      const panels = await answer.json();
      for (const [id, html] of Object.entries(panels)) {
        const element = document.getElementById(id);
        if (!element || shown[id] === html) continue;
        shown[id] = html;
        element.innerHTML = html;
        if (id === "chat-log") scrollChat();
      }
    } catch (error) {
      note.textContent = String(error);
    } finally {
      busy = false;
    }
  }

  document.addEventListener("submit", async (event) => {
    const form = event.target;
    event.preventDefault();
    const data = new URLSearchParams(new FormData(form, event.submitter));
    const buttons = form.querySelectorAll("button");
    buttons.forEach((button) => (button.disabled = true));
    form.classList.add("sending");
    try {
      const answer = await fetch(form.action, {
        method: "POST",
        body: data,
        headers: { "x-sandbox": "fetch" },
      });
      const result = await answer.json();
      note.textContent = result.note || "";
      if (result.who && String(result.who) !== body.dataset.who) {
        // The invitation goes to the ticket's person: show their chat, keep the note.
        sessionStorage.setItem("note", note.textContent);
        location.href = `/?who=${result.who}&lang=${body.dataset.lang}`;
        return;
      }
      if (form.id === "reply") form.elements.text.value = "";
    } catch (error) {
      note.textContent = String(error);
    } finally {
      buttons.forEach((button) => (button.disabled = false));
      form.classList.remove("sending");
    }
    await refresh();
  });

  const kept = sessionStorage.getItem("note");
  if (kept) {
    note.textContent = kept;
    sessionStorage.removeItem("note");
  }
  scrollChat();
  setInterval(refresh, 1000);
})();
