// What every page does with the shared layout: the navigation's "Connexion" becomes a
// "Déconnexion" button when this tab holds a session.

import { readSession, signOut } from "./session.js";

export function initLayout() {
  const item = document.getElementById("nav-session");
  if (!item || !readSession()) return;
  const button = document.createElement("button");
  button.type = "button";
  button.id = "nav-deconnexion";
  button.dataset.testid = "nav-sign-out";
  button.textContent = "Déconnexion";
  button.addEventListener("click", async () => {
    button.setAttribute("aria-disabled", "true");
    await signOut();
    window.location.assign("/");
  });
  item.replaceChildren(button);
}
