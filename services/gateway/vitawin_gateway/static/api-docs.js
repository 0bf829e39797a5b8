// The interactive API documentation (/api/v1/docs, written by vitawin_gateway.pages): starts
// Swagger UI (swagger-ui-dist's swagger-ui-bundle.js, which the page loads just before this
// module) on the gateway's merged OpenAPI document. A file rather than an inline script: the
// pages' Content-Security-Policy allows the gateway's own scripts only.
//
// The document is fetched here, not by Swagger UI, so that the page can say in French when it
// cannot be loaded and which services are missing from it (x-missing-services). "Try it out" calls
// the API through the gateway (the document's server is "/") with the token given to "Authorize"
// (the document's Bearer scheme), or the web app's session token of this tab ("Utiliser ma session").

const SESSION_KEY = "vitawin.session"; // the web app's session (web/app/static/js/session.js)

const root = document.getElementById("swagger-ui");
const status = document.getElementById("doc-etat");

function say(message) {
  status.textContent = message;
  status.hidden = !message;
}

function missingMessage(spec) {
  const missing = Array.isArray(spec["x-missing-services"]) ? spec["x-missing-services"] : [];
  if (missing.length === 0) return "";
  return "Services momentanément indisponibles, dont les opérations ne figurent pas ci-dessous : "
    + `${missing.join(", ")}.`;
}

async function loadDocument(url) {
  const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return response.json();
}

/** The access token of the web app's session in this tab, when it has one that is still valid. */
function sessionToken() {
  try {
    const session = JSON.parse(window.sessionStorage.getItem(SESSION_KEY) || "null");
    if (session && typeof session.access_token === "string" && Number(session.expires_at) > Date.now()) {
      return session.access_token;
    }
  } catch {
    // storage disabled, or an unreadable value: no session
  }
  return null;
}

function offerSession(ui, scheme) {
  const token = sessionToken();
  if (!token) return;
  const holder = document.getElementById("doc-session");
  const button = document.getElementById("doc-utiliser-session");
  const done = document.getElementById("doc-session-etat");
  holder.hidden = false;
  button.addEventListener("click", () => {
    ui.preauthorizeApiKey(scheme, token);
    done.textContent = "Jeton de votre session utilisé : « Try it out » l'envoie avec chaque requête.";
  });
}

/**
 * Our layout, a Swagger UI plugin (its documented "custom layout"): BaseLayout's parts without its
 * info block (our page has the title and the introduction in French) nor its servers list (one
 * server, the gateway), and with a <div> where BaseLayout has a second <main> inside our page's.
 */
function vitawinLayout({ React }) {
  const h = React.createElement;
  class VitawinLayout extends React.Component {
    render() {
      const { getComponent, specSelectors } = this.props;
      const SvgAssets = getComponent("SvgAssets");
      const VersionPragmaFilter = getComponent("VersionPragmaFilter");
      const Errors = getComponent("errors", true);
      const Row = getComponent("Row");
      const Col = getComponent("Col");
      const AuthorizeBtnContainer = getComponent("AuthorizeBtnContainer", true);
      const Operations = getComponent("operations", true);
      const Models = getComponent("Models", true);
      return h("div", { className: "swagger-ui" },
        h(SvgAssets),
        h(VersionPragmaFilter, {
          isSwagger2: specSelectors.isSwagger2(), isOAS3: specSelectors.isOAS3(),
          isOAS31: specSelectors.isOAS31(), alsoShow: h(Errors),
        },
        h(Errors),
        specSelectors.securityDefinitions()
          ? h("div", { className: "scheme-container" },
            h(Col, { className: "schemes wrapper", mobile: 12 }, h(AuthorizeBtnContainer)))
          : null,
        h("div", { id: "operations" },
          h(Row, null, h(Col, { mobile: 12, desktop: 12 }, h(Operations))),
          h(Row, null, h(Col, { mobile: 12, desktop: 12 }, h(Models))))));
    }
  }
  return { components: { VitawinLayout } };
}

/**
 * Accessibility fixes to Swagger UI's own components (a plugin wrapping them): a name for the
 * authorisation dialog's close button (an icon alone) and for the text areas (the request's body),
 * the focus given back to the opener when that dialog closes, and no aria-label on buttons that
 * show a text (Swagger UI names "Authorize" "Apply credentials": a spoken command would not match).
 */
function accessibilityFixes({ React }) {
  const h = React.createElement;
  return {
    wrapComponents: {
      CloseIcon: (Original) => (props) => h(React.Fragment, null,
        h(Original, { ...props, "aria-hidden": "true", focusable: "false" }),
        h("span", { className: "visually-hidden" }, "Fermer")),
      TextArea: (Original) => (props) => h(Original, {
        "aria-label": String(props.className || "").includes("body-param__text") ? "Corps de la requête" : "Valeur",
        ...props,
      }),
      // Closing the dialog gives the focus back to the button that opened it (WCAG 2.4.3).
      authorizationPopup: (Original) => class ReturnFocus extends React.Component {
        constructor(props) {
          super(props);
          this.opener = document.activeElement;
        }

        componentWillUnmount() {
          const opener = this.opener;
          if (opener && typeof opener.focus === "function") window.setTimeout(() => opener.isConnected && opener.focus());
        }

        render() {
          return h(Original, this.props);
        }
      },
      Button: (Original) => (props) => {
        if (typeof props.children === "string" && props["aria-label"]) {
          const { "aria-label": _ignored, ...rest } = props;
          return h(Original, rest);
        }
        return h(Original, props);
      },
    },
  };
}

async function start() {
  const Bundle = window.SwaggerUIBundle;
  if (typeof Bundle !== "function") {
    root.textContent = "";
    say("La documentation interactive n'a pas pu être chargée. Consultez la liste des opérations.");
    return;
  }
  let spec;
  try {
    spec = await loadDocument(root.dataset.openapiUrl);
  } catch {
    root.textContent = "";
    say("La description de l'API n'a pas pu être chargée : réessayez dans un instant, ou consultez la "
      + "liste des opérations.");
    return;
  }
  say(missingMessage(spec));
  root.textContent = "";
  const ui = Bundle({
    spec,
    domNode: root,
    presets: [Bundle.presets.apis],
    plugins: [vitawinLayout, accessibilityFixes],
    layout: "VitawinLayout",
    validatorUrl: null, // no call to an outside validator
    deepLinking: false, // its links inside the operations' buttons are nested controls
    docExpansion: "list",
    defaultModelsExpandDepth: 0,
    displayRequestDuration: true,
    persistAuthorization: false, // the token stays in this page only
    withCredentials: false,
    syntaxHighlight: { activated: true, theme: "idea" }, // a light theme, readable contrast
  });
  offerSession(ui, root.dataset.scheme);
}

start();
