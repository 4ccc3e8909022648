namespace Vdi.Protocol;

/// <summary>Client → server: a key went down or up.</summary>
/// <param name="Code">The DOM <c>KeyboardEvent.code</c> (physical key, e.g. "KeyA"); mapped by <see cref="DomKeyCodes"/>.</param>
/// <param name="Key">The DOM <c>KeyboardEvent.key</c> (the character or key name); informational, for logs.</param>
/// <param name="Down">True on keydown (including auto-repeat), false on keyup.</param>
public sealed record KeyEvent(string Code, string Key, bool Down);
