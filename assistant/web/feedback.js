// Votes on the result cards: a click on a .ata-vote button posts {query_id, answer_id, helpful} to
// api/feedback and marks the button; `element` is the results component (Gradio's js_on_load).
element.addEventListener("click", async (event) => {
  const button = event.target.closest("button.ata-vote");
  const results = button && button.closest(".ata-results");
  if (!results || !results.dataset.queryId) return;
  const group = button.closest(".ata-votes");
  const status = group.querySelector(".ata-vote-status");
  const vote = {
    query_id: results.dataset.queryId,
    answer_id: button.dataset.answerId || null,
    helpful: button.dataset.helpful === "true",
  };
  try {
    const response = await fetch(new URL("api/feedback", document.baseURI), {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(vote),
    });
    if (!response.ok) throw new Error((await response.json()).error);
    group.querySelectorAll("button.ata-vote").forEach((b) => b.setAttribute("aria-pressed", String(b === button)));
    status.textContent = "Thanks, noted.";
  } catch (error) {
    status.textContent = "Your vote was not recorded.";
  }
});
