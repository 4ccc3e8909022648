namespace Vdi.Vmm.Devices.Input;

/// <summary>
/// The events an input device holds until the driver posts eventq buffers: a FIFO of whole reports that remembers
/// which keys and buttons its queued events leave pressed, and can fold a new pointer position into a motion-only
/// report still waiting at its tail (the latest position wins; nothing else is ever merged). Not thread-safe: used
/// under the device's gate.
/// </summary>
internal sealed class PendingInput
{
    /// <summary>EV_KEY codes tracked: keys (1–248) and buttons (BTN_LEFT 0x110 …).</summary>
    public const int KeyCodes = 0x200;

    private readonly List<InputEvent> _events = [];
    private readonly bool[] _pressed = new bool[KeyCodes];
    private int _head;
    private int _lastReportStart = -1;

    public int Count => _events.Count - _head;

    /// <summary>Whether the driver, once it has read every queued event, sees <paramref name="code"/> pressed.</summary>
    public bool IsPressed(ushort code) => code < KeyCodes && _pressed[code];

    public InputEvent Peek() => _events[_head];

    public void Dequeue()
    {
        _head++;
        if (_head == _events.Count)
        {
            _events.Clear();
            _head = 0;
            _lastReportStart = -1;
        }
        else if (_head >= 4096 && _head * 2 >= _events.Count)
        {
            _events.RemoveRange(0, _head);
            _lastReportStart -= _head;
            _head = 0;
        }
    }

    public void Enqueue(ReadOnlySpan<InputEvent> report)
    {
        _lastReportStart = _events.Count;
        foreach (var e in report)
        {
            _events.Add(e);
            if (e.Type == Evdev.EvKey && e.Code < KeyCodes && e.Value is Evdev.KeyPressed or Evdev.KeyReleased)
                _pressed[e.Code] = e.Value == Evdev.KeyPressed;
        }
    }

    /// <summary>
    /// When the newest report is motion only (ABS_X, ABS_Y, SYN_REPORT) and the driver has not started reading it,
    /// moves it to (<paramref name="x"/>, <paramref name="y"/>) and returns true.
    /// </summary>
    public bool TryCoalesceMotion(int x, int y)
    {
        var start = _lastReportStart;
        if (start < _head || start + 3 != _events.Count)
            return false;
        if (_events[start] is not { Type: Evdev.EvAbs, Code: Evdev.AbsX } || _events[start + 1] is not { Type: Evdev.EvAbs, Code: Evdev.AbsY })
            return false;
        _events[start] = _events[start] with { Value = x };
        _events[start + 1] = _events[start + 1] with { Value = y };
        return true;
    }

    /// <summary>The waiting events, the keys they leave pressed, and where the newest report starts among them (-1: none to fold into).</summary>
    public (InputEvent[] Events, bool[] Pressed, int LastReportStart) Export() =>
        ([.. _events.Skip(_head)], (bool[])_pressed.Clone(), _lastReportStart >= _head ? _lastReportStart - _head : -1);

    public void Import(IReadOnlyList<InputEvent> events, bool[] pressed, int lastReportStart)
    {
        _events.Clear();
        _events.AddRange(events);
        _head = 0;
        _lastReportStart = lastReportStart;
        pressed.AsSpan(0, KeyCodes).CopyTo(_pressed);
    }

    public void Clear()
    {
        _events.Clear();
        _head = 0;
        _lastReportStart = -1;
        Array.Clear(_pressed);
    }
}
