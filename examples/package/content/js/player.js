// Example guidance player: reads the settings file served beside it.
fetch("../settings.json").then((answer) => answer.json()).then((settings) => {
  document.getElementById("walkthru-root").textContent = settings.active ? "Guidance on" : "Guidance off";
});
