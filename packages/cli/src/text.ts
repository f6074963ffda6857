/**
 * The embedded corpus of the character-level language model: a few kilobytes of plain prose
 * written for seqgrad (no download, no licence to track). Its repetitions of common words
 * and phrasings are what a small recurrent model picks up first.
 */
export const EMBEDDED_TEXT = `the keeper of the small light on the north shore kept a book of the weather. every morning she wrote the wind, the sea, the colour of the sky and the number of boats that went out. every evening she wrote the number of boats that came back. most days the two numbers were the same, and she was glad of it.

the light stood on a rock at the end of a long wall of stone. at high tide the sea came up on both sides of the wall, and the keeper walked out to the light with the water close to her feet. at low tide the wall stood high and dry, and the children of the village ran along it to look at the crabs in the pools.

in the spring the wind came from the west, and it was soft and wet. the boats went out early and came back late, full of fish. in the summer the wind came from the south, and it was warm and slow. the boats went out and came back, went out and came back, and the days were long. in the autumn the wind came from the north, and it was cold and hard. the boats stayed in the harbour more often, and the keeper lit the lamp earlier every night.

the lamp was old. it had a wick, a glass, a brass frame and a great lens that turned once every half minute. the keeper wound the clock that turned the lens at dusk and again at midnight. if she forgot, the lens would stop, and the light would shine in one direction only, and a boat coming home from the other side would see nothing but the dark. she never forgot.

one night in the autumn a storm came from the north. the wind was so strong that the rain flew sideways, and the sea broke over the wall in white sheets. the keeper could not walk out to the light. she stood at the window of her house and watched the lens turn. once every half minute the beam swept over the harbour, over the wall, over the open sea, and back again.

at midnight the clock would need winding. she knew it. the light would stop at a quarter past twelve, and three boats were still out. she put on her coat and her boots and tied a rope around her waist. she tied the other end of the rope to the iron ring by her door. then she went out into the storm.

the wall was wet and the wind pushed her to the left and to the right. twice a wave broke over the stones in front of her, and she held on to the rope and waited. the water ran away, and she went on. it took her a long time to reach the light, longer than it had ever taken. when she opened the door at the foot of the tower, the clock was ticking slowly, and the lens had almost stopped.

she climbed the stairs and wound the clock. the lens began to turn again, once every half minute, and the beam swept out over the sea. she stayed in the tower all night. she wound the clock again at dawn. from the small window at the top she counted the boats as they came in: one, two, three.

in the morning the storm was over. the sea was grey and tired, and the sky was clean. the keeper walked back along the wall with the rope in her hand. the children were already on the stones, looking at the pools. one of them asked her why she had a rope around her waist. she said that the wind had been strong in the night. then she went home, opened her book, and wrote the weather: wind from the north, very strong; sea high; sky black, then clear. three boats out, three boats back.

the next spring the village built a new light with an electric lamp and a motor that turned the lens by itself. nobody needed to wind a clock any more. the keeper still walked out to the old light every evening, to look at the sea and to write in her book. she wrote the wind, the sea, the colour of the sky and the number of boats that went out. every evening she wrote the number of boats that came back, and most days the two numbers were the same.

a river runs past the village on its way to the sea. it starts high in the hills as a cold spring under a stone. it runs down through the grass, then through the trees, then past the mill, where it turns a wheel that grinds the grain. below the mill the river grows slow and wide. it runs past the church, past the school, past the houses with their small gardens, and under the old bridge of three arches. then it meets the sea, and the fresh water and the salt water mix in the harbour.

the miller knew the river as the keeper knew the sea. he knew when it would rise and when it would fall. in the spring, when the snow in the hills melted, the river ran fast and brown, and the wheel turned so quickly that the whole mill shook. in the late summer the river ran slow and clear, and the wheel turned so slowly that he could count the turns. he wrote the turns in a book, as the keeper wrote the boats.

the two of them met every sunday on the old bridge. she told him the number of boats, and he told her the number of turns. neither of them knew why the other kept a book. neither of them asked. they stood on the bridge and watched the river meet the sea, and then they went home.
`;
